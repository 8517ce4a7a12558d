# Third-party packages, all from Debian. OpenBLAS is required by name so that a machine with
# only the reference BLAS fails here instead of running GEMMs 30 times slower.
set(BLA_VENDOR OpenBLAS)
find_package(xtensor 0.24 REQUIRED)
find_package(xsimd 8 REQUIRED)
find_package(xtensor-blas 0.20 REQUIRED)
find_package(fmt 9 REQUIRED)
find_package(BLAS REQUIRED)
# libzip (the .npz archives) through pkg-config: Debian's libzip CMake package refers to the
# zipcmp/zipmerge/ziptool programs, which libzip-dev does not install, and fails without them.
find_package(PkgConfig REQUIRED)
pkg_check_modules(libzip REQUIRED IMPORTED_TARGET libzip>=1.7)
# oneDNN (Debian's libdnnl-dev), the float GEMMs' library on most CPUs (autograd/src/gemm.cpp),
# by its header and library: Debian's CMake package of it requires OpenCL's development files,
# which nothing here uses. Its threads are OpenMP's.
find_path(TAPEGRAD_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h)
find_library(TAPEGRAD_DNNL_LIBRARY dnnl)
if(NOT TAPEGRAD_DNNL_INCLUDE_DIR OR NOT TAPEGRAD_DNNL_LIBRARY)
  message(FATAL_ERROR "oneDNN not found: scripts/setup.sh installs libdnnl-dev")
endif()
find_package(OpenMP REQUIRED COMPONENTS CXX)
