/*
 * Complaint reports as they arrive by mail: ARF feedback reports (RFC 5965)
 * and X-ARF reports, parsed with GMime into the few facts a complaint needs
 * (the reported message's source address, the kind of report, who sent it).
 * Pure: no database, so it is unit-tested and fuzzed on bytes.
 */
#ifndef RELAYAUDIT_ARF_PARSE_H
#define RELAYAUDIT_ARF_PARSE_H

#include <stddef.h>

/* As the complaints.raw check allows: a longer report is refused (and kept). */
#define ARF_MAX_REPORT 1048576
/* Nested multipart containers a report may hold (GMime's parser recurses). */
#define ARF_MAX_MULTIPARTS 32

enum arf_format { ARF_RFC5965, ARF_XARF };

struct arf_report {
	enum arf_format format;
	char source_ip[64];      /* normalised, e.g. "192.0.2.1" */
	char feedback_type[64];  /* ARF Feedback-Type or X-ARF Category; "" when absent */
	char reporter[256];      /* the report's From address, censored; "" when absent */
	char ip_from[32];        /* where source_ip came from: "Source-IP", "Received", "Source" */
};

/* The format's name as stored and shown: "arf" or "x-arf". */
const char *arf_format_name(enum arf_format f);

/*
 * Parses one report (the whole mail, headers first). 0 with *out filled, or
 * -1 with *why saying in words why the report cannot be filed (not MIME, not
 * a feedback report, no usable source address, too large or too nested).
 */
int arf_parse(const char *data, size_t len, struct arf_report *out, const char **why);

/*
 * The report as evidence text for the database: invalid UTF-8 sequences
 * replaced by U+FFFD (a report is often 8-bit spam). malloc'd.
 */
char *arf_evidence_text(const char *data, size_t len);

#endif
