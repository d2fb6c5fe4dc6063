/*
 * Placeholders for roles whose module has not landed yet (see roles.h). Each
 * module deletes its own block below when it defines the real functions.
 * They only warn, so a default roles list still starts the roles that exist.
 */
#include "auditd/roles.h"
#include "common/log.h"

