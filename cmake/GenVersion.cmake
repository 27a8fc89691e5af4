# Writes DST (dsv3/Version.h) from SRC/include/dsv3/Version.h.in with the
# project version and the git commit of the source tree ("-dirty" with
# uncommitted changes to tracked files, "unknown" outside git). Run at every
# build; configure_file leaves DST untouched when nothing changed, so nothing
# recompiles then.
execute_process(COMMAND git -C "${SRC}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE DSV3_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE rc ERROR_QUIET)
if(NOT rc EQUAL 0 OR DSV3_COMMIT STREQUAL "")
  set(DSV3_COMMIT "unknown")
else()
  execute_process(COMMAND git -C "${SRC}" status --porcelain
                          --untracked-files=no
                  OUTPUT_VARIABLE dirty ERROR_QUIET)
  if(NOT dirty STREQUAL "")
    string(APPEND DSV3_COMMIT "-dirty")
  endif()
endif()
configure_file("${SRC}/include/dsv3/Version.h.in" "${DST}" @ONLY)
