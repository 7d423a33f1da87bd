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
	ASN1_INTEGER *tag;
	ASN1_OCTET_STRING *content;
} CCM_EVIDENCE;

DEFINE_STACK_OF(CCM_EVIDENCE)
typedef STACK_OF(CCM_EVIDENCE) CCM_EVIDENCE_LIST;

DECLARE_ASN1_FUNCTIONS(CCM_ENCLAVE_ID)
DECLARE_ASN1_FUNCTIONS(CCM_EVIDENCE)
DECLARE_ASN1_FUNCTIONS(CCM_EVIDENCE_LIST)

#endif
