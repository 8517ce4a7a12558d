# Installs the library, its headers and a versioned CMake package:
#   find_package(tapegrad CONFIG REQUIRED)  ->  tapegrad::tapegrad (everything), or one part:
#   tapegrad::autograd, tapegrad::nn, tapegrad::optim, tapegrad::data
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TAPEGRAD_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad")

install(TARGETS tapegrad tapegrad_autograd tapegrad_nn tapegrad_optim tapegrad_data
        EXPORT tapegradTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/ autograd/include/ layers/include/ optim/include/ data/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT tapegradTargets NAMESPACE tapegrad:: DESTINATION ${TAPEGRAD_CMAKE_DIR})

configure_package_config_file(cmake/tapegradConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/tapegradConfig.cmake" INSTALL_DESTINATION ${TAPEGRAD_CMAKE_DIR})
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/tapegradConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/tapegradConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/tapegradConfigVersion.cmake"
        DESTINATION ${TAPEGRAD_CMAKE_DIR})
