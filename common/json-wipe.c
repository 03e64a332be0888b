/* Implementation of json-wipe.h. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "json-wipe.h"

void json_wipe(json_t *j) {
        const char *k;
        json_t *v;
        size_t i;

        if (json_is_string(j))
                explicit_bzero((char *)json_string_value(j), json_string_length(j));
        else if (json_is_object(j))
                json_object_foreach(j, k, v)
                        json_wipe(v);
        else if (json_is_array(j))
                json_array_foreach(j, i, v)
                        json_wipe(v);
}

/* jansson's own buffers (the parser's token buffer, json_dumps()'s growing
 * output, string values) hold credential bytes and go back to free()
 * without our say: every block it frees is wiped first. */
static void wiping_free(void *p) {
        if (p) {
                explicit_bzero(p, malloc_usable_size(p));
                free(p);
        }
}

void json_wipe_on_free(void) {
        json_set_alloc_funcs(malloc, wiping_free);
}
