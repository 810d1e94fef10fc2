# aarch64-linux-gnu.cmake — cross-compile kv for 64-bit Arm Linux with
# Debian's cross compiler (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross) and
# the arm64 xxHash (libxxhash-dev:arm64, after dpkg --add-architecture arm64).
#
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=tools/cmake/aarch64-linux-gnu.cmake
#
# Programs are linked statically (-static), so the same binaries run under
# qemu-user without an arm64 loader and library path, and in the test VM's
# initramfs (tests/aarch64-vm.sh), which holds no C library.  CTest runs each
# test through CMAKE_CROSSCOMPILING_EMULATOR (qemu-aarch64); the tests' own
# child processes (posix_spawn of the test binary, of kvcli) run through
# binfmt_misc, which tests/aarch64.sh checks.  Host headers and libraries are
# never searched (FIND_ROOT_PATH_MODE ONLY): /usr/include is x86-64 glibc's.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(KV_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${KV_CROSS_TRIPLE}-gcc)
# The cross glibc lives in /usr/aarch64-linux-gnu, the multiarch arm64
# packages (libxxhash-dev:arm64) in /usr/lib/aarch64-linux-gnu.
set(CMAKE_FIND_ROOT_PATH /usr/${KV_CROSS_TRIPLE} /usr/lib/${KV_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (libxxhash) must read the arm64 .pc files only; Debian's
# pkgconf has no aarch64-linux-gnu-pkg-config wrapper unless
# pkgconf:arm64's cross files are installed, so point the host one there.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${KV_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# -static needs every library found as an archive: pkg_check_modules turns
# -lxxhash into a full path with find_library, which would pick
# libxxhash.so and fail the link.  CMake sets the suffixes (.so .a) after
# reading a toolchain file, so this file is also named as the rules
# override, which CMake reads after its platform files.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(CMAKE_USER_MAKE_RULES_OVERRIDE ${CMAKE_CURRENT_LIST_FILE})

find_program(KV_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(KV_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${KV_QEMU_AARCH64})
endif()
