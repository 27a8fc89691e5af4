# Fails if any of FILES ("|"-separated) has a DT_NEEDED entry naming LLVM,
# MLIR or CUDA: the runtime links only libc++/libc/libdl/pthread and dlopens
# the driver.
string(REPLACE "|" ";" files "${FILES}")
foreach(f IN LISTS files)
  execute_process(COMMAND readelf -d "${f}" OUTPUT_VARIABLE out
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "readelf -d ${f} failed")
  endif()
  string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*" needed "${out}")
  if(NOT needed)
    message(FATAL_ERROR "${f}: no NEEDED entries found (readelf output odd)")
  endif()
  foreach(n IN LISTS needed)
    string(TOLOWER "${n}" lower)
    if(lower MATCHES "llvm|mlir|cuda|nvrtc|nvidia")
      message(FATAL_ERROR "${f}: forbidden dependency ${n}")
    endif()
    message(STATUS "${f}: ${n}")
  endforeach()
endforeach()
