# unit tests: ccm_unit_test(name unit/file.c ...) (paths relative to tests/)
ccm_unit_test(test_sgx unit/test_sgx.c)
