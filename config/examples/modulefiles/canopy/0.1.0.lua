-- SPDX-License-Identifier: MIT
-- Lmod modulefile of canopy, the cooperative read cache of a job's nodes.
-- Install as <modulepath>/canopy/0.1.0.lua; adjust prefix.
help([[
canopy 0.1.0: a cooperative FUSE read cache for the nodes of a job.

  canopy-launch --export /lus/proj/env   start canopyd on every node
  canopy-stop                            stop them
  canopy_prepend_pythonpath DIR          DIR as seen through the mount
  canopy_prepend_path DIR, canopy_prepend_ld_library_path DIR

CANOPY_MOUNT is the mount point (/canopy): /canopy/X is /X.
]])
whatis("Name: canopy")
whatis("Version: 0.1.0")
whatis("Description: cooperative FUSE read cache for HPC jobs")

local prefix = "/usr/local"
local mount = os.getenv("CANOPY_MOUNT") or "/canopy"

prepend_path("PATH", pathJoin(prefix, "bin"))
setenv("CANOPY_PREFIX", prefix)
setenv("CANOPY_EXAMPLES", pathJoin(prefix, "share/canopy/examples"))
setenv("CANOPY_MOUNT", mount)

-- Shell functions: prepend a backing-store directory, as seen through the
-- mount, to a path variable; if the mount is not there (canopy-launch
-- failed or was not run) the directory itself, so a job still runs.
local function fn(name, var)
	return "d=\"$1\"; case \"$d\" in /*) ;; *) d=\"$PWD/$d\" ;; esac; " ..
		"if [ -n \"$CANOPY_MOUNT\" ] && " ..
		"canopyctl -m \"$CANOPY_MOUNT\" status >/dev/null 2>&1; then " ..
		"d=\"$CANOPY_MOUNT$d\"; fi; " ..
		"export " .. var .. "=\"$d${" .. var .. ":+:$" .. var .. "}\""
end
set_shell_function("canopy_prepend_pythonpath", fn("pythonpath", "PYTHONPATH"), "")
set_shell_function("canopy_prepend_path", fn("path", "PATH"), "")
set_shell_function("canopy_prepend_ld_library_path",
	fn("ld_library_path", "LD_LIBRARY_PATH"), "")
