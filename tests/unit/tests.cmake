# unit tests: ccm_unit_test(name sources...)
