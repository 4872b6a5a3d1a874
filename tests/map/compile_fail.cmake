# Runs the compiler on compile_fail.cpp: with -DCASE_OK it must compile; with every bad case at
# once it must fail, and the output must carry each refusal's message.
execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -DCASE_OK -I${INCLUDE} ${SOURCE}
                RESULT_VARIABLE ok_rc OUTPUT_VARIABLE ok_out ERROR_VARIABLE ok_out)
if(NOT ok_rc EQUAL 0)
  message(FATAL_ERROR "the control case does not compile:\n${ok_out}")
endif()
execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -DCASE_ALL -I${INCLUDE} ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "the bad cases compiled")
endif()
foreach(want
    "refuses floating-point keys"
    "Use StringHashMap<V>"
    "needs a key whose bytes are its value"
    "Context has no `hash("
    "must return std::uint64_t"
    "Context has no `eql(")
  string(FIND "${out}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "missing message: ${want}\n--- compiler output ---\n${out}")
  endif()
endforeach()
message(STATUS "every refusal carries its message")
