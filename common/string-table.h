/* Enum <-> string tables: one macro pair instead of a hand-written
 * to_string/from_string per enum.  The table is a static array indexed by
 * the enum, named <name>_table; to_string returns NULL outside it and
 * from_string returns -EINVAL (every enum's _X_INVALID) for an unknown or
 * NULL string.
 *
 *   static const char *const shutdown_action_table[_SHUTDOWN_ACTION_MAX] = { ... };
 *   DEFINE_STRING_TABLE_LOOKUP(shutdown_action, ShutdownAction);
 */
#pragma once

#include "macro.h"

#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type)                       \
        const char *name##_to_string(type i) {                                 \
                if ((int)i < 0 || (size_t)i >= ELEMENTSOF(name##_table))        \
                        return NULL;                                           \
                return name##_table[i];                                        \
        }

#define DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type)                     \
        type name##_from_string(const char *s) {                               \
                for (size_t i = 0; s && i < ELEMENTSOF(name##_table); i++)      \
                        if (name##_table[i] && streq(name##_table[i], s))      \
                                return (type)i;                                \
                return (type)-EINVAL;                                          \
        }

#define DEFINE_STRING_TABLE_LOOKUP(name, type)                                 \
        DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type)                       \
        DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type)
