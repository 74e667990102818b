# Warnings as an INTERFACE target every project target links to.
add_library(mqttpki_warnings INTERFACE)
add_library(mqttpki::warnings ALIAS mqttpki_warnings)
target_compile_options(mqttpki_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
  -Wno-sign-conversion -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
  -Wimplicit-fallthrough)
# GCC 12 at -O3 reports false -Wrestrict errors inside libstdc++'s string concatenation (GCC bug 105329).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
   AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(mqttpki_warnings INTERFACE -Wno-restrict)
endif()
if(MQTTPKI_WERROR)
  target_compile_options(mqttpki_warnings INTERFACE -Werror)
endif()

# mqttpki_module(NAME [PUBLIC DEPS...] [PRIVATE DEPS...]): lib/NAME/src/*.cpp as target mqttpki_NAME (alias
# mqttpki::NAME), public headers in lib/NAME/include/mqttpki/NAME/. A dependency is PUBLIC only when a public
# header of the module includes its headers.
function(mqttpki_module name)
  cmake_parse_arguments(arg "" "" "PUBLIC;PRIVATE" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  if(NOT srcs)  # headers only
    add_library(mqttpki_${name} INTERFACE)
    add_library(mqttpki::${name} ALIAS mqttpki_${name})
    target_include_directories(mqttpki_${name} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(mqttpki_${name} INTERFACE ${arg_PUBLIC})
    target_compile_features(mqttpki_${name} INTERFACE cxx_std_20)
    return()
  endif()
  add_library(mqttpki_${name} STATIC ${srcs})
  add_library(mqttpki::${name} ALIAS mqttpki_${name})
  target_include_directories(mqttpki_${name}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(mqttpki_${name} PUBLIC ${arg_PUBLIC} PRIVATE ${arg_PRIVATE} mqttpki::warnings)
  target_compile_features(mqttpki_${name} PUBLIC cxx_std_20)
endfunction()
