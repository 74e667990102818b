# -DMQTTPKI_SANITIZE=address,undefined builds everything with those sanitizers.
if(MQTTPKI_SANITIZE)
  add_compile_options(-fsanitize=${MQTTPKI_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${MQTTPKI_SANITIZE})
endif()
