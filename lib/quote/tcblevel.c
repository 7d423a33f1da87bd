/*
 * DESIGN: TCB level matching and status convergence, as Intel's QVL does
 * it (TcbLevelCheck.cpp, TdxModuleCheck.cpp), kept apart from the rest of
 * verification because it is pure: numbers in, a status and a level out,
 * no OpenSSL, no I/O. Levels arrive sorted (tcbinfo.c); the first level
 * that every PCK component, the PCESVN and (TDX) the TEE TCB SVN reach is
 * the match. Comparison is per component, never lexicographic.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "tcblevel.h"

static bool tcblevel_sgx_ok(const struct pckext *ext, const struct tcb_level *l)
{
	for (int i = 0; i < 16; i++)
		if (ext->comp[i] < l->sgx[i])
			return false;
	return ext->pcesvn >= l->pcesvn;
}

static bool tcblevel_tdx_ok(const uint8_t svn[16], const struct tcb_level *l)
{
	for (int i = svn[1] > 0 ? 2 : 0; i < 16; i++)
		if (svn[i] < l->tdx[i])
			return false;
	return true;
}

void tcblevel_match(const struct tcbinfo *t, const struct pckext *ext, const uint8_t *tee_tcb_svn,
                    const struct tcb_level **sgx, const struct tcb_level **tdx)
{
	*sgx = *tdx = NULL;
	for (size_t i = 0; i < t->n_levels; i++) {
		const struct tcb_level *l = &t->levels[i];
		if (!tcblevel_sgx_ok(ext, l))
			continue;
		if (*sgx == NULL)
			*sgx = l;
		if (tee_tcb_svn == NULL)
			return;
		if (tcblevel_tdx_ok(tee_tcb_svn, l)) {
			*tdx = l;
			return;
		}
	}
}

const struct tcb_level *tcblevel_isv_level(const struct tcb_level *levels, size_t n,
                                           uint16_t isvsvn)
{
	for (size_t i = 0; i < n; i++)
		if (isvsvn >= levels[i].isvsvn)
			return &levels[i];
	return NULL;
}

const struct tdx_module_id *tcblevel_find_module(const struct tcbinfo *t, uint8_t version)
{
	char want[16];

	snprintf(want, sizeof(want), "TDX_%02X", version);
	for (size_t i = 0; i < t->n_modules; i++) {
		char id[16];
		size_t k;
		for (k = 0; k + 1 < sizeof(id) && t->modules[i].id[k] != '\0'; k++) {
			char ch = t->modules[i].id[k];
			id[k] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
		}
		id[k] = '\0';
		if (strcmp(id, want) == 0)
			return &t->modules[i];
	}
	return NULL;
}

/* A QE, TDX module or level status against OutOfDate/Revoked rules. */
enum ccm_tcb_status tcblevel_converge(enum ccm_tcb_status level, enum ccm_tcb_status other)
{
	if (other == CCM_TCB_OUT_OF_DATE) {
		if (level == CCM_TCB_UP_TO_DATE || level == CCM_TCB_SW_HARDENING_NEEDED)
			return CCM_TCB_OUT_OF_DATE;
		if (level == CCM_TCB_CONFIGURATION_NEEDED ||
		    level == CCM_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
			return CCM_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
	}
	if (other == CCM_TCB_REVOKED)
		return CCM_TCB_REVOKED;
	if (other == CCM_TCB_NOT_SUPPORTED)
		return CCM_TCB_NOT_SUPPORTED;
	return level;
}

/* Any status other than UpToDate/Revoked is "out of date" for a QE level
 * (QVL: ISVSVN_OUT_OF_DATE). */
enum ccm_tcb_status tcblevel_isv_status(const struct tcb_level *l)
{
	if (l == NULL)
		return CCM_TCB_NOT_SUPPORTED;
	if (l->status == CCM_TCB_UP_TO_DATE || l->status == CCM_TCB_REVOKED)
		return l->status;
	return CCM_TCB_OUT_OF_DATE;
}

/* A TDX module level admits only UpToDate, OutOfDate and Revoked (QVL
 * VALID_MODULE_TCB_STATUSES); anything else is unrecognized and terminal,
 * not "out of date" as for a QE level. */
enum ccm_tcb_status tcblevel_module_status(const struct tcbinfo *t, const uint8_t svn[16])
{
	const struct tdx_module_id *m;
	const struct tcb_level *l;

	if (svn[1] == 0)
		return CCM_TCB_UP_TO_DATE;
	m = tcblevel_find_module(t, svn[1]);
	l = m == NULL ? NULL : tcblevel_isv_level(m->levels, m->n_levels, svn[0]);
	if (l == NULL)
		return CCM_TCB_NOT_SUPPORTED;
	if (l->status != CCM_TCB_UP_TO_DATE && l->status != CCM_TCB_OUT_OF_DATE &&
	    l->status != CCM_TCB_REVOKED)
		return CCM_TCB_NONE;
	return l->status;
}
