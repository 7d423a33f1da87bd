/*
 * DESIGN: the pure TCB matching functions of tcblevel.c (see there), separate
 * from internal.h so that a unit test can call them on synthetic levels.
 */
#ifndef CCM_QUOTE_TCBLEVEL_H
#define CCM_QUOTE_TCBLEVEL_H

#include "internal.h"

/* First level reached by the PCK TCB (and, when tee_tcb_svn is not NULL,
 * the first that the TD's TEE TCB SVN also reaches). */
void tcblevel_match(const struct tcbinfo *t, const struct pckext *ext, const uint8_t *tee_tcb_svn,
                    const struct tcb_level **sgx, const struct tcb_level **tdx);
/* First level (sorted by isvsvn descending) with isvsvn <= the given. */
const struct tcb_level *tcblevel_isv_level(const struct tcb_level *levels, size_t n,
                                           uint16_t isvsvn);
/* tdxModuleIdentities entry "TDX_%02X" (case-insensitive), or NULL. */
const struct tdx_module_id *tcblevel_find_module(const struct tcbinfo *t, uint8_t version);
enum ccm_tcb_status tcblevel_converge(enum ccm_tcb_status level, enum ccm_tcb_status other);
enum ccm_tcb_status tcblevel_isv_status(const struct tcb_level *l);
/* TDX module TCB status for TEE_TCB_SVN (QVL checkTdxModuleTcbStatus):
 * UpToDate for module version 0, TCBNotSupported without an identity or a
 * level, CCM_TCB_NONE for a level status a module may not have. */
enum ccm_tcb_status tcblevel_module_status(const struct tcbinfo *t, const uint8_t svn[16]);

#endif
