# What a Release build adds: it is the build you deploy (cpack) and the one bench/ measures.
#   MQTTPKI_LTO: link-time optimisation with unused sections dropped: the mqttpki binary is about a quarter
#     smaller, and a long-running broker keeps less of it resident.
#   MQTTPKI_STATIC_RUNTIME: libstdc++, libgcc and fmt linked into the binaries: the running broker maps
#     no libstdc++/libfmt (about 1 MB less resident memory), and a binary only needs glibc and OpenSSL 3.
# Both are on by default for Release only, so test builds stay quick to link.
if(CMAKE_BUILD_TYPE STREQUAL "Release")
  set(mqttpki_release_default ON)
else()
  set(mqttpki_release_default OFF)
endif()
option(MQTTPKI_LTO "Link-time optimisation and unused-section removal (default: on for Release)"
  ${mqttpki_release_default})
option(MQTTPKI_STATIC_RUNTIME "Link libstdc++, libgcc and fmt into the binaries (default: on for Release)"
  ${mqttpki_release_default})

if(MQTTPKI_LTO)
  include(CheckIPOSupported)
  check_ipo_supported(RESULT mqttpki_ipo_ok OUTPUT mqttpki_ipo_why LANGUAGES CXX)
  if(mqttpki_ipo_ok)
    set(CMAKE_INTERPROCEDURAL_OPTIMIZATION ON)
  else()
    message(WARNING "MQTTPKI_LTO: no link-time optimisation with this compiler: ${mqttpki_ipo_why}")
  endif()
  add_compile_options(-ffunction-sections -fdata-sections)
  add_link_options(-Wl,--gc-sections)
  # GCC 12 inlining across files reports a false -Wstringop-overflow inside libstdc++'s string
  # concatenation (the same family as GCC bug 105329, see Warnings.cmake).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    add_link_options(-Wno-stringop-overflow)
  endif()
endif()

# mqttpki::fmt: what every target links for fmt.
add_library(mqttpki_fmt INTERFACE)
add_library(mqttpki::fmt ALIAS mqttpki_fmt)
if(MQTTPKI_STATIC_RUNTIME)
  target_link_libraries(mqttpki_fmt INTERFACE fmt::fmt-header-only)
  add_link_options(-static-libstdc++ -static-libgcc)
else()
  target_link_libraries(mqttpki_fmt INTERFACE fmt::fmt)
endif()
