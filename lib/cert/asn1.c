/*
 * DESIGN: the ccm certificate extensions as OpenSSL ASN.1 templates, so
 * that DER encoding and decoding is OpenSSL's, not ours. Both live under
 * TCG DICE OIDs with small arcs: an earlier private OID under the X.667
 * UUID arc (2.25.<128-bit>) made Go's crypto/x509 (and anything built on
 * it) refuse to parse the whole certificate, since it caps OID arcs at
 * 31 bits. Interoperability beats a private arc.
 *
 *   DiceTcbInfo ::= SEQUENCE {                 -- OID 2.23.133.5.4.1
 *       vendor     [0] IMPLICIT UTF8String OPTIONAL,
 *       model      [1] IMPLICIT UTF8String OPTIONAL,
 *       version    [2] IMPLICIT UTF8String OPTIONAL,
 *       svn        [3] IMPLICIT INTEGER OPTIONAL,
 *       layer      [4] IMPLICIT INTEGER OPTIONAL,
 *       index      [5] IMPLICIT INTEGER OPTIONAL,
 *       fwids      [6] IMPLICIT SEQUENCE OF FWID OPTIONAL,
 *       flags      [7] IMPLICIT OperationalFlags OPTIONAL,
 *       vendorInfo [8] IMPLICIT OCTET STRING OPTIONAL,
 *       type       [9] IMPLICIT OCTET STRING OPTIONAL }
 *   FWID ::= SEQUENCE { hashAlg OBJECT IDENTIFIER, digest OCTET STRING }
 *
 *   EnclaveIdentity ::= SEQUENCE {             -- inside vendorInfo
 *       mrenclave  OCTET STRING (SIZE (32)),
 *       mrsigner   OCTET STRING (SIZE (32)),
 *       isvprodid  INTEGER (0..65535),
 *       isvsvn     INTEGER (0..65535),
 *       debug      BOOLEAN,
 *       simulated  BOOLEAN }       -- TRUE: the evidence is not hardware
 *
 *   TaggedEvidence ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE {
 *       tag      INTEGER,          -- CBOR tag number of the evidence format
 *       content  OCTET STRING }    -- the evidence, e.g. a DCAP quote
 *                                  -- OID 2.23.133.5.4.9
 */
#include <openssl/asn1t.h>

#include "cert-int.h"

/* The template macros are declarations, not calls: keep clang-format out
 * (to the end of the file). */
// clang-format off
ASN1_SEQUENCE(CCM_ENCLAVE_ID) = {
	ASN1_SIMPLE(CCM_ENCLAVE_ID, mrenclave, ASN1_OCTET_STRING),
	ASN1_SIMPLE(CCM_ENCLAVE_ID, mrsigner, ASN1_OCTET_STRING),
	ASN1_SIMPLE(CCM_ENCLAVE_ID, isvprodid, ASN1_INTEGER),
	ASN1_SIMPLE(CCM_ENCLAVE_ID, isvsvn, ASN1_INTEGER),
	ASN1_SIMPLE(CCM_ENCLAVE_ID, debug, ASN1_BOOLEAN),
	ASN1_SIMPLE(CCM_ENCLAVE_ID, simulated, ASN1_BOOLEAN),
} ASN1_SEQUENCE_END(CCM_ENCLAVE_ID)
IMPLEMENT_ASN1_FUNCTIONS(CCM_ENCLAVE_ID)

ASN1_SEQUENCE(CCM_FWID) = {
	ASN1_SIMPLE(CCM_FWID, hash_alg, ASN1_OBJECT),
	ASN1_SIMPLE(CCM_FWID, digest, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(CCM_FWID)
IMPLEMENT_ASN1_FUNCTIONS(CCM_FWID)

ASN1_SEQUENCE(CCM_TCB_INFO) = {
	ASN1_IMP_OPT(CCM_TCB_INFO, vendor, ASN1_UTF8STRING, 0),
	ASN1_IMP_OPT(CCM_TCB_INFO, model, ASN1_UTF8STRING, 1),
	ASN1_IMP_OPT(CCM_TCB_INFO, version, ASN1_UTF8STRING, 2),
	ASN1_IMP_OPT(CCM_TCB_INFO, svn, ASN1_INTEGER, 3),
	ASN1_IMP_OPT(CCM_TCB_INFO, layer, ASN1_INTEGER, 4),
	ASN1_IMP_OPT(CCM_TCB_INFO, index, ASN1_INTEGER, 5),
	ASN1_IMP_SEQUENCE_OF_OPT(CCM_TCB_INFO, fwids, CCM_FWID, 6),
	ASN1_IMP_OPT(CCM_TCB_INFO, flags, ASN1_BIT_STRING, 7),
	ASN1_IMP_OPT(CCM_TCB_INFO, vendor_info, ASN1_OCTET_STRING, 8),
	ASN1_IMP_OPT(CCM_TCB_INFO, type, ASN1_OCTET_STRING, 9),
} ASN1_SEQUENCE_END(CCM_TCB_INFO)
IMPLEMENT_ASN1_FUNCTIONS(CCM_TCB_INFO)

ASN1_SEQUENCE(CCM_EVIDENCE) = {
	ASN1_SIMPLE(CCM_EVIDENCE, tag, ASN1_INTEGER),
	ASN1_SIMPLE(CCM_EVIDENCE, content, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(CCM_EVIDENCE)
IMPLEMENT_ASN1_FUNCTIONS(CCM_EVIDENCE)

ASN1_ITEM_TEMPLATE(CCM_EVIDENCE_LIST) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, TaggedEvidence, CCM_EVIDENCE)
ASN1_ITEM_TEMPLATE_END(CCM_EVIDENCE_LIST)
IMPLEMENT_ASN1_FUNCTIONS(CCM_EVIDENCE_LIST)
