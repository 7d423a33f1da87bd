/*
 * DESIGN: the enclave layout contract, in one place, shared by the
 * converter (which signs its MRENCLAVE) and the runtime (which recomputes
 * it from its own binary and manifest before it trusts either). Nothing in
 * it depends on the host: the ELF is read from bytes with every field
 * checked, offsets are relative to the lowest PT_LOAD page, and the order of
 * EADD/EEXTEND is fixed, so the same inputs give the same MRENCLAVE
 * everywhere. docs/internals/image.md describes it byte by byte; change
 * both together (and the format version) or the runtime refuses to start.
 */
#include <stdlib.h>
#include <string.h>

#include "ccm/image.h"
#include "ccm/sgx.h"
#include "util/util.h"

#define PAGE 4096u
#define MAX_SEGS 16u
#define MAX_SPAN ((uint64_t)256 << 20)
#define PT_LOAD_ 1u
#define PF_X_ 1u
#define PF_W_ 2u
#define PF_R_ 4u

struct layout_seg {
	uint64_t vaddr, memsz, off, filesz;
	uint32_t flags;
};

struct layout_elf {
	struct layout_seg seg[MAX_SEGS];
	size_t n;
	uint64_t entry, base, span;
};

static uint64_t layout_round(uint64_t v)
{
	return (v + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

static ccm_code layout_seg(const uint8_t *ph, size_t len, struct layout_elf *e,
                           struct ccm_error *err)
{
	struct layout_seg s = {.flags = util_le32(ph + 4),
	                       .off = util_le64(ph + 8),
	                       .vaddr = util_le64(ph + 16),
	                       .filesz = util_le64(ph + 32),
	                       .memsz = util_le64(ph + 40)};

	if (s.memsz == 0)
		return CCM_OK;
	if (e->n == MAX_SEGS)
		return ccm_fail(err, CCM_E_LIMIT, "runtime ELF: more than %u PT_LOAD segments",
		                MAX_SEGS);
	if (s.filesz > s.memsz || s.off > len || s.filesz > len - s.off)
		return ccm_fail(err, CCM_E_INPUT, "runtime ELF: PT_LOAD %zu outside the file",
		                e->n);
	if (s.vaddr > UINT64_MAX - s.memsz - PAGE || s.vaddr % PAGE != s.off % PAGE)
		return ccm_fail(err, CCM_E_INPUT, "runtime ELF: PT_LOAD %zu misaligned", e->n);
	if (e->n > 0 && s.vaddr < e->seg[e->n - 1].vaddr + e->seg[e->n - 1].memsz)
		return ccm_fail(err, CCM_E_INPUT,
		                "runtime ELF: PT_LOAD %zu overlaps or is out of order", e->n);
	e->seg[e->n++] = s;
	return CCM_OK;
}

static ccm_code layout_parse_elf(const uint8_t *elf, size_t len, struct layout_elf *e,
                                 struct ccm_error *err)
{
	uint64_t phoff;
	uint16_t phnum;

	memset(e, 0, sizeof(*e));
	if (len < 64 || memcmp(elf, "\177ELF", 4) != 0)
		return ccm_fail(err, CCM_E_INPUT, "runtime: not an ELF file");
	if (elf[4] != 2 || elf[5] != 1 || util_le16(elf + 18) != 62)
		return ccm_fail(err, CCM_E_UNSUPPORTED, "runtime ELF: not x86-64 little-endian");
	phoff = util_le64(elf + 32);
	phnum = util_le16(elf + 56);
	if (util_le16(elf + 54) != 56 || phnum == 0 || phnum > 64 || phoff > len ||
	    (uint64_t)phnum * 56 > len - phoff)
		return ccm_fail(err, CCM_E_INPUT, "runtime ELF: bad program header table");
	for (uint16_t i = 0; i < phnum; i++) {
		const uint8_t *ph = elf + phoff + (uint64_t)i * 56;
		if (util_le32(ph) == PT_LOAD_ && layout_seg(ph, len, e, err) != CCM_OK)
			return err->code;
	}
	if (e->n == 0)
		return ccm_fail(err, CCM_E_INPUT, "runtime ELF: no PT_LOAD segment");
	e->base = e->seg[0].vaddr & ~(uint64_t)(PAGE - 1);
	e->span = layout_round(e->seg[e->n - 1].vaddr + e->seg[e->n - 1].memsz) - e->base;
	e->entry = util_le64(elf + 24);
	if (e->span > MAX_SPAN)
		return ccm_fail(err, CCM_E_LIMIT, "runtime ELF: spans more than 256 MiB");
	if (e->entry < e->base || e->entry - e->base >= e->span)
		return ccm_fail(err, CCM_E_INPUT, "runtime ELF: entry point outside the segments");
	e->entry -= e->base;
	return CCM_OK;
}

/* Build one ELF page: flags from the segments covering it, 0 if none. */
static uint64_t layout_elf_page(const uint8_t *elf, const struct layout_elf *e, uint64_t va,
                                uint8_t page[PAGE])
{
	uint64_t flags = 0;

	memset(page, 0, PAGE);
	for (size_t i = 0; i < e->n; i++) {
		const struct layout_seg *s = &e->seg[i];
		uint64_t lo = s->vaddr > va ? s->vaddr : va;
		uint64_t hi = s->vaddr + s->filesz < va + PAGE ? s->vaddr + s->filesz : va + PAGE;
		if (s->vaddr >= va + PAGE || s->vaddr + s->memsz <= va)
			continue;
		flags |= (s->flags & PF_R_ ? CCM_SGX_SECINFO_R : 0) |
		         (s->flags & PF_W_ ? CCM_SGX_SECINFO_W : 0) |
		         (s->flags & PF_X_ ? CCM_SGX_SECINFO_X : 0) | CCM_SGX_SECINFO_REG;
		if (hi > lo)
			memcpy(page + (lo - va), elf + s->off + (lo - s->vaddr), hi - lo);
	}
	return flags;
}

static ccm_code layout_elf_pages(struct ccm_sgx_measure *m, const uint8_t *elf,
                                 const struct layout_elf *e, struct ccm_image_layout *info,
                                 struct ccm_error *err)
{
	uint8_t page[PAGE];

	for (uint64_t off = 0; off < e->span; off += PAGE) {
		uint64_t flags = layout_elf_page(elf, e, e->base + off, page);
		if (flags == 0)
			continue;
		if (ccm_sgx_measure_page(m, off, flags, page, true, err) != CCM_OK)
			return err->code;
		info->elf_pages++;
	}
	return CCM_OK;
}

static ccm_code layout_manifest_pages(struct ccm_sgx_measure *m, const uint8_t *man, size_t len,
                                      const struct ccm_image_layout *info, struct ccm_error *err)
{
	uint8_t page[PAGE];
	uint64_t pos = 0; /* position in the (length || bytes) stream */

	for (uint64_t i = 0; i < info->manifest_pages; i++) {
		memset(page, 0, PAGE);
		for (size_t k = 0; k < PAGE; k++, pos++) {
			if (pos < 8)
				page[k] = (uint8_t)((uint64_t)len >> (8 * pos));
			else if (pos - 8 < len)
				page[k] = man[pos - 8];
		}
		if (ccm_sgx_measure_page(m, info->manifest_off + i * PAGE,
		                         CCM_SGX_SECINFO_R | CCM_SGX_SECINFO_REG, page, true,
		                         err) != CCM_OK)
			return err->code;
	}
	return CCM_OK;
}

static void layout_tcs(uint8_t page[PAGE], uint64_t tcs, uint64_t entry, uint64_t stack_top)
{
	memset(page, 0, PAGE);
	util_put_le64(page + 16, tcs + PAGE);           /* OSSA */
	util_put_le32(page + 28, CCM_IMAGE_SSA_FRAMES); /* NSSA */
	util_put_le64(page + 32, entry);                /* OENTRY */
	util_put_le64(page + 48, stack_top);            /* OFSBASGX */
	util_put_le64(page + 56, stack_top);            /* OGSBASGX */
	util_put_le32(page + 64, 0xfff);                /* FSLIMIT */
	util_put_le32(page + 68, 0xfff);                /* GSLIMIT */
}

static ccm_code layout_rest(struct ccm_sgx_measure *m, const struct ccm_image_layout *info,
                            uint32_t threads, struct ccm_error *err)
{
	static const uint8_t zero[PAGE];
	const uint64_t rw = CCM_SGX_SECINFO_R | CCM_SGX_SECINFO_W | CCM_SGX_SECINFO_REG;
	uint8_t tcs[PAGE];

	for (uint64_t i = 0; i < info->heap_pages; i++)
		if (ccm_sgx_measure_page(m, info->heap_off + i * PAGE, rw, zero, false, err))
			return err->code;
	for (uint32_t t = 0; t < threads; t++) {
		uint64_t base = info->threads_off + (uint64_t)t * info->thread_pages * PAGE;
		uint64_t stack = base + (1 + CCM_IMAGE_SSA_FRAMES) * PAGE;
		layout_tcs(tcs, base, info->entry, stack + CCM_IMAGE_STACK_PAGES * PAGE);
		if (ccm_sgx_measure_page(m, base, CCM_SGX_SECINFO_TCS, tcs, true, err))
			return err->code;
		for (uint64_t p = 1; p < info->thread_pages; p++)
			if (ccm_sgx_measure_page(m, base + p * PAGE, rw, zero, false, err))
				return err->code;
	}
	return CCM_OK;
}

static ccm_code layout_plan(const struct layout_elf *e, size_t manifest_len, uint64_t mem,
                            uint32_t threads, struct ccm_image_layout *info, struct ccm_error *err)
{
	if (mem < CCM_IMAGE_MIN_MEM || mem > CCM_IMAGE_MAX_MEM)
		return ccm_fail(err, CCM_E_RANGE, "enclave memory %llu outside 1 MiB..64 GiB",
		                (unsigned long long)mem);
	if (threads < 1 || threads > CCM_IMAGE_MAX_THREADS)
		return ccm_fail(err, CCM_E_RANGE, "thread count %u outside 1..%u", threads,
		                CCM_IMAGE_MAX_THREADS);
	if (manifest_len > CCM_IMAGE_MAX_MANIFEST)
		return ccm_fail(err, CCM_E_LIMIT, "image manifest of %zu bytes exceeds %u",
		                manifest_len, CCM_IMAGE_MAX_MANIFEST);
	memset(info, 0, sizeof(*info));
	info->elf_base = e->base;
	info->elf_span = e->span;
	info->entry = e->entry;
	info->manifest_off = e->span;
	info->manifest_pages = layout_round(8 + (uint64_t)manifest_len) / PAGE;
	info->heap_off = info->manifest_off + info->manifest_pages * PAGE;
	info->heap_pages = layout_round(mem) / PAGE;
	info->threads_off = info->heap_off + info->heap_pages * PAGE;
	info->thread_pages = 1 + CCM_IMAGE_SSA_FRAMES + CCM_IMAGE_STACK_PAGES;
	info->end = info->threads_off + (uint64_t)threads * info->thread_pages * PAGE;
	info->size = 2 * PAGE;
	while (info->size < info->end)
		info->size <<= 1;
	return CCM_OK;
}

ccm_code ccm_image_layout_measure(const uint8_t *elf, size_t elf_len, const uint8_t *manifest,
                                  size_t manifest_len, uint64_t mem, uint32_t threads,
                                  uint8_t mrenclave[32], struct ccm_image_layout *info,
                                  struct ccm_error *err)
{
	struct ccm_image_layout local;
	struct ccm_sgx_measure *m = NULL;
	struct layout_elf *e = calloc(1, sizeof(*e));
	ccm_code rc;

	if (info == NULL)
		info = &local;
	if (e == NULL)
		return ccm_fail(err, CCM_E_NOMEM, "out of memory");
	rc = elf_len > CCM_IMAGE_MAX_RUNTIME
	             ? ccm_fail(err, CCM_E_LIMIT, "runtime ELF larger than 64 MiB")
	             : layout_parse_elf(elf, elf_len, e, err);
	if (rc == CCM_OK)
		rc = layout_plan(e, manifest_len, mem, threads, info, err);
	if (rc == CCM_OK)
		rc = ccm_sgx_measure_new(&m, err);
	if (rc == CCM_OK)
		rc = ccm_sgx_measure_ecreate(m, 1, info->size, err);
	if (rc == CCM_OK)
		rc = layout_elf_pages(m, elf, e, info, err);
	if (rc == CCM_OK)
		rc = layout_manifest_pages(m, manifest, manifest_len, info, err);
	if (rc == CCM_OK)
		rc = layout_rest(m, info, threads, err);
	if (rc == CCM_OK)
		rc = ccm_sgx_measure_final(m, mrenclave, err);
	ccm_sgx_measure_free(m);
	free(e);
	return rc;
}
