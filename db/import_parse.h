/*
 * Parsing and validating a customer import file (CSV with a header row, or
 * JSON lines) into rows, with every error tied to its line. Pure: no
 * database, so it is unit-tested on strings; db/import.c writes the rows.
 */
#ifndef RELAYAUDIT_IMPORT_PARSE_H
#define RELAYAUDIT_IMPORT_PARSE_H

#include "common/addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMPORT_MAX_ERRORS 50  /* errors kept for the report; the rest are counted */
#define IMPORT_MAX_PORTS 8    /* as the targets.ports check allows */
#define IMPORT_MAX_DOMAINS 32 /* as the targets.domains check allows */
#define IMPORT_MAX_FIELD 4096 /* bytes in one field */
#define IMPORT_MAX_TARGETS 16777216 /* addresses one file may expand to in all */

enum import_format { IMPORT_CSV, IMPORT_JSONL };

struct import_row {
	int line; /* where the record starts in the file */
	char *customer;
	char *contact_email;
	/* Optional fields: NULL / 0 / false when the file leaves them empty. */
	char *name;
	char *locale;
	char *access_type;
	struct cidr cidr;
	int ports[IMPORT_MAX_PORTS];
	int nports;
	char *domains[IMPORT_MAX_DOMAINS];
	int ndomains;
	bool domains_given;
};

struct import_error {
	int line;
	char *msg;
};

struct import_result {
	struct import_row *rows;
	size_t nrows;
	uint64_t ntargets; /* addresses after CIDR expansion */
	struct import_error errors[IMPORT_MAX_ERRORS];
	int nerrors;      /* kept, sorted by line */
	int errors_total; /* kept + dropped */
};

struct import_limits {
	uint64_t max_cidr;  /* import_max_cidr */
	bool loopback_only; /* loopback and documentation targets allowed (tests, demos) */
};

/* CSV unless the name ends in .jsonl/.ndjson or the first non-blank byte is '{'. */
enum import_format import_detect(const char *filename, const char *data, size_t len);

/* Parses data into res (zeroed first). Returns 0 when there were no errors. */
int import_parse(const char *data, size_t len, enum import_format format,
                 const struct import_limits *limits, struct import_result *res);
void import_result_free(struct import_result *res);
/* Adds an error found later (e.g. by the database), keeping the list sorted and bounded. */
void import_add_error(struct import_result *res, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ports as PostgreSQL array text "{25,587}" into buf; the row's or def's. */
void import_ports_text(const int *ports, int n, char *buf, size_t len);

#endif
