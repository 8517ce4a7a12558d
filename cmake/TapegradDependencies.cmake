# Third-party packages, all from Debian. OpenBLAS is required by name so that a machine with
# only the reference BLAS fails here instead of running GEMMs 30 times slower.
set(BLA_VENDOR OpenBLAS)
find_package(xtensor 0.24 REQUIRED)
find_package(xsimd 8 REQUIRED)
find_package(xtensor-blas 0.20 REQUIRED)
find_package(fmt 9 REQUIRED)
find_package(BLAS REQUIRED)
find_package(ZLIB REQUIRED)
