-- 011_customer_domains: the mail domains a customer has on record with the
-- ISP (from the import's domains column or the API). The daemon hands them,
-- with the target's own domains, to every probe of the customer's targets:
-- sender domains the server may trust as its own, and backscatter recipients.
-- Stored in their normal form (common/mail_domain.c: lower case, no trailing
-- dot); the CHECK keeps writers that skip that code from storing junk.

ALTER TABLE customers
    ADD COLUMN domains text[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(domains) <= 32
           AND array_position(domains, NULL) IS NULL
           AND array_to_string(domains, ' ') ~ '^([a-z0-9][a-z0-9.-]*[a-z0-9]( |$))*$');
