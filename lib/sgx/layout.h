/*
 * DESIGN: the rules a sequence of ECREATE/EADD/EEXTEND must obey (SDM
 * operation constraints plus Fortanix's canonical-form rules), kept apart
 * from hashing so that the measurement context and the SGXS reader
 * enforce exactly the same ones, with the same messages.
 */
#ifndef CCM_SGX_LAYOUT_H
#define CCM_SGX_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "ccm/ccm.h"

struct sgx_layout {
	int state; /* 0 new, 1 created, 2 finalised */
	uint64_t size;
	bool have_page;
	uint64_t page;     /* offset of the last EADD */
	uint16_t extended; /* chunks of that page already extended */
};

ccm_code sgx_layout_ecreate(struct sgx_layout *l, uint32_t ssaframesize, uint64_t size,
                            struct ccm_error *err);
/* Returns the flags as hashed in *hashed (TCS permissions cleared). */
ccm_code sgx_layout_eadd(struct sgx_layout *l, uint64_t offset, uint64_t flags, uint64_t *hashed,
                         struct ccm_error *err);
ccm_code sgx_layout_eextend(struct sgx_layout *l, uint64_t offset, struct ccm_error *err);
ccm_code sgx_layout_created(const struct sgx_layout *l, const char *what, struct ccm_error *err);

#endif
