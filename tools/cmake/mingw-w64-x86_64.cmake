# mingw-w64-x86_64.cmake — cross-compile kv for 64-bit Windows with Debian's
# mingw-w64 (gcc-mingw-w64-x86-64-win32) and run the results under wine.
#
#   cmake -S . -B build/win64 -DCMAKE_TOOLCHAIN_FILE=tools/cmake/mingw-w64-x86_64.cmake
#
# Programs are linked statically (-static: libgcc, winpthreads and the C
# runtime glue), so no mingw DLL has to be found at run time: under
# WINEDEBUG=-all a missing DLL is only an exit code 53.  CTest runs every
# test through CMAKE_CROSSCOMPILING_EMULATOR, so `add_test(COMMAND target)`
# becomes `wine target.exe`.  Host headers and libraries are never searched
# (FIND_ROOT_PATH_MODE ONLY): /usr/include belongs to glibc.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(KV_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${KV_MINGW_TRIPLE}-gcc)
set(CMAKE_RC_COMPILER ${KV_MINGW_TRIPLE}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${KV_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")

# Without wine the build still works; the tests just cannot run here.
# Address-space randomization now and then puts something where wine must
# map Windows' shared user data (0x7ffe0000): about one start in 2,000 then
# fails ("failed to map the shared user data", exit 1, silent under
# WINEDEBUG=-all).  setarch -R turns randomization off for wine and every
# process it starts; the wine helper scripts do the same.
find_program(KV_WINE NAMES wine wine64)
find_program(KV_SETARCH setarch)
if(KV_WINE AND KV_SETARCH)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${KV_SETARCH} ${CMAKE_HOST_SYSTEM_PROCESSOR} -R ${KV_WINE})
elseif(KV_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${KV_WINE})
endif()
