/*
 * DESIGN: platform detection reports what is there and nothing more. SGX
 * support comes from CPUID (leaf 7 for SGX and FLC, leaf 0x12 for SGX1/SGX2
 * and the maximum enclave size), the device nodes the kernel exposes, and
 * whether Intel's DCAP quote library can be loaded. The manager decides
 * what a node without them may do; the agent never claims hardware it
 * cannot show.
 */
#include <cpuid.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

static json_t *cpu_sgx(void)
{
	unsigned a = 0, b = 0, c = 0, d = 0;
	json_t *o = json_object();
	bool sgx = false, flc = false;

	if (__get_cpuid_max(0, NULL) >= 7) {
		__cpuid_count(7, 0, a, b, c, d);
		sgx = (b >> 2) & 1;
		flc = (c >> 30) & 1;
	}
	json_object_set_new(o, "cpu_sgx", json_boolean(sgx));
	json_object_set_new(o, "flc", json_boolean(flc));
	if (sgx && __get_cpuid_max(0, NULL) >= 0x12) {
		__cpuid_count(0x12, 0, a, b, c, d);
		json_object_set_new(o, "sgx1", json_boolean(a & 1));
		json_object_set_new(o, "sgx2", json_boolean((a >> 1) & 1));
		json_object_set_new(o, "max_enclave_size_64",
		                    json_integer((json_int_t)1 << ((d >> 8) & 0xff)));
	} else {
		json_object_set_new(o, "sgx1", json_false());
		json_object_set_new(o, "sgx2", json_false());
	}
	return o;
}

static json_t *devices(void)
{
	static const char *const paths[] = {"/dev/sgx_enclave", "/dev/sgx_provision",
	                                    "/dev/sgx/enclave", "/dev/isgx"};
	json_t *arr = json_array();

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], F_OK) == 0)
			json_array_append_new(arr, json_string(paths[i]));
	return arr;
}

static bool dcap_library(void)
{
	void *h = dlopen("libsgx_dcap_ql.so.1", RTLD_NOW | RTLD_LOCAL);

	if (h == NULL)
		return false;
	dlclose(h);
	return true;
}

static void cpu_model(json_t *o)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
			colon[strcspn(colon, "\n")] = '\0';
			json_object_set_new(o, "cpu", json_string(colon + 2));
			break;
		}
	}
	fclose(f);
}

json_t *platform_detect(void)
{
	json_t *o = json_object(), *sgx = cpu_sgx();
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	json_t *dev = devices();
	bool hw;

	cpu_model(o);
	json_object_set_new(o, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
	json_object_set_new(o, "memory_bytes", json_integer((json_int_t)pages * psz));
	json_object_set_new(sgx, "devices", dev);
	json_object_set_new(sgx, "dcap_quote_library", json_boolean(dcap_library()));
	hw = json_is_true(json_object_get(sgx, "cpu_sgx")) && json_array_size(dev) > 0;
	json_object_set_new(sgx, "usable", json_boolean(hw));
	json_object_set_new(o, "sgx", sgx);
	return o;
}

bool platform_has_sgx(const json_t *sysinfo)
{
	json_t *sgx = json_object_get(sysinfo, "sgx");

	return json_is_true(json_object_get(sgx, "usable")) &&
	       json_is_true(json_object_get(sgx, "dcap_quote_library"));
}
