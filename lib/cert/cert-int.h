/* Internal ASN.1 types of lib/cert (see asn1.c). */
#ifndef CCM_CERT_INT_H
#define CCM_CERT_INT_H

#include <openssl/asn1.h>
#include <openssl/safestack.h>

typedef struct {
	ASN1_OCTET_STRING *mrenclave;
	ASN1_OCTET_STRING *mrsigner;
	ASN1_INTEGER *isvprodid;
	ASN1_INTEGER *isvsvn;
	ASN1_BOOLEAN debug;
	ASN1_BOOLEAN simulated;
} CCM_ENCLAVE_ID;

typedef struct {
	ASN1_OBJECT *hash_alg;
	ASN1_OCTET_STRING *digest;
} CCM_FWID;

DEFINE_STACK_OF(CCM_FWID)

/* TCG DICE TcbInfo (2.23.133.5.4.1); see asn1.c. */
typedef struct {
	ASN1_UTF8STRING *vendor;
	ASN1_UTF8STRING *model;
	ASN1_UTF8STRING *version;
	ASN1_INTEGER *svn;
	ASN1_INTEGER *layer;
	ASN1_INTEGER *index;
	STACK_OF(CCM_FWID) * fwids;
	ASN1_BIT_STRING *flags;
	ASN1_OCTET_STRING *vendor_info;
	ASN1_OCTET_STRING *type;
} CCM_TCB_INFO;

/* OperationalFlags bits (TCG DICE Attestation Architecture). */
#define CCM_TCB_FLAG_NOT_SECURE 1
#define CCM_TCB_FLAG_DEBUG 3

typedef struct {
	ASN1_INTEGER *tag;
	ASN1_OCTET_STRING *content;
} CCM_EVIDENCE;

DEFINE_STACK_OF(CCM_EVIDENCE)
typedef STACK_OF(CCM_EVIDENCE) CCM_EVIDENCE_LIST;

DECLARE_ASN1_FUNCTIONS(CCM_ENCLAVE_ID)
DECLARE_ASN1_FUNCTIONS(CCM_EVIDENCE)
DECLARE_ASN1_FUNCTIONS(CCM_FWID)
DECLARE_ASN1_FUNCTIONS(CCM_TCB_INFO)
DECLARE_ASN1_FUNCTIONS(CCM_EVIDENCE_LIST)

#endif
