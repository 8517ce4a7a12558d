# Build options that apply to tapegrad's own targets only (never to CMAKE_CXX_FLAGS).

# Warnings: our code only.
add_library(tapegrad_warnings INTERFACE)
target_compile_options(tapegrad_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow)
if(TAPEGRAD_WERROR)
  target_compile_options(tapegrad_warnings INTERFACE -Werror)
endif()

# Sanitizers: the library, the tests and the examples together.
add_library(tapegrad_sanitizers INTERFACE)
if(TAPEGRAD_SANITIZE)
  set(_tapegrad_san -fsanitize=address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer)
  target_compile_options(tapegrad_sanitizers INTERFACE ${_tapegrad_san})
  target_link_options(tapegrad_sanitizers INTERFACE ${_tapegrad_san})
endif()

# Everything of ours links this (warnings + sanitizers).
add_library(tapegrad_dev INTERFACE)
target_link_libraries(tapegrad_dev INTERFACE tapegrad_warnings tapegrad_sanitizers)
