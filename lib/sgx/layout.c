/*
 * DESIGN: see layout.h. Each refusal names the record kind, the offending
 * value and the rule, because the reader prefixes only the record index.
 */
#include "ccm/sgx.h"
#include "layout.h"

ccm_code sgx_layout_created(const struct sgx_layout *l, const char *what, struct ccm_error *err)
{
	if (l->state == 0)
		return ccm_fail(err, CCM_E_INPUT, "%s before ECREATE", what);
	if (l->state == 2)
		return ccm_fail(err, CCM_E_INPUT, "%s after the measurement was finalised", what);
	return CCM_OK;
}

ccm_code sgx_layout_ecreate(struct sgx_layout *l, uint32_t ssaframesize, uint64_t size,
                            struct ccm_error *err)
{
	if (l->state != 0)
		return ccm_fail(err, CCM_E_INPUT, "ECREATE: a second ECREATE");
	if (ssaframesize == 0)
		return ccm_fail(err, CCM_E_INPUT, "ECREATE: SSA frame size 0 (must be >= 1 page)");
	if (size < 2 * CCM_SGX_PAGE_SIZE || (size & (size - 1)) != 0)
		return ccm_fail(err, CCM_E_INPUT,
		                "ECREATE: enclave size 0x%llx is not a power of two >= 0x2000",
		                (unsigned long long)size);
	l->state = 1;
	l->size = size;
	return CCM_OK;
}

ccm_code sgx_layout_eadd(struct sgx_layout *l, uint64_t offset, uint64_t flags, uint64_t *hashed,
                         struct ccm_error *err)
{
	uint64_t type = (flags >> 8) & 0xff;
	ccm_code rc = sgx_layout_created(l, "EADD", err);

	if (rc != CCM_OK)
		return rc;
	if (offset % CCM_SGX_PAGE_SIZE != 0)
		return ccm_fail(err, CCM_E_INPUT, "EADD: offset 0x%llx is not page-aligned",
		                (unsigned long long)offset);
	if (offset >= l->size)
		return ccm_fail(err, CCM_E_INPUT,
		                "EADD: offset 0x%llx is outside the enclave (size 0x%llx)",
		                (unsigned long long)offset, (unsigned long long)l->size);
	if (l->have_page && offset <= l->page)
		return ccm_fail(err, CCM_E_INPUT,
		                "EADD: offset 0x%llx is not above the previous page 0x%llx",
		                (unsigned long long)offset, (unsigned long long)l->page);
	if (type != CCM_SGX_PT_TCS && type != CCM_SGX_PT_REG)
		return ccm_fail(err, CCM_E_INPUT,
		                "EADD: SECINFO flags 0x%llx at offset 0x%llx are not a TCS or "
		                "regular page (page type %llu)",
		                (unsigned long long)flags, (unsigned long long)offset,
		                (unsigned long long)type);
	if ((flags & ~(uint64_t)0xff07) != 0)
		return ccm_fail(err, CCM_E_INPUT,
		                "EADD: SECINFO flags 0x%llx at offset 0x%llx set bits other than "
		                "R/W/X and the page type",
		                (unsigned long long)flags, (unsigned long long)offset);
	*hashed = type == CCM_SGX_PT_TCS ? CCM_SGX_SECINFO_TCS : flags;
	l->have_page = true;
	l->page = offset;
	l->extended = 0;
	return CCM_OK;
}

ccm_code sgx_layout_eextend(struct sgx_layout *l, uint64_t offset, struct ccm_error *err)
{
	unsigned chunk;
	ccm_code rc = sgx_layout_created(l, "EEXTEND", err);

	if (rc != CCM_OK)
		return rc;
	if (offset % CCM_SGX_CHUNK_SIZE != 0)
		return ccm_fail(err, CCM_E_INPUT, "EEXTEND: offset 0x%llx is not 256-byte aligned",
		                (unsigned long long)offset);
	if (!l->have_page)
		return ccm_fail(err, CCM_E_INPUT, "EEXTEND: offset 0x%llx comes before any EADD",
		                (unsigned long long)offset);
	if ((offset & ~(uint64_t)0xfff) != l->page)
		return ccm_fail(err, CCM_E_INPUT,
		                "EEXTEND: offset 0x%llx is not in the page of the preceding EADD",
		                (unsigned long long)offset);
	chunk = (unsigned)((offset & 0xfff) / CCM_SGX_CHUNK_SIZE);
	if (l->extended & (1u << chunk))
		return ccm_fail(err, CCM_E_INPUT, "EEXTEND: offset 0x%llx is measured twice",
		                (unsigned long long)offset);
	l->extended = (uint16_t)(l->extended | (1u << chunk));
	return CCM_OK;
}
