/* Implementation of ctl-delivery.h. */
#include <string.h>

#include "ctl-delivery.h"
#include "id-util.h"
#include "secret-util.h"

bool ctl_delivery_id_is_safe(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n <= CTL_DELIVERY_ID_MAX &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

const char *ctl_delivery_parse(json_t *j, const char *token, CtlDelivery *d) {
        json_t *t = json_object_get(j, "token");

        d->id = json_string_value(json_object_get(j, "deliveryId"));
        d->sid = json_string_value(json_object_get(j, "sessionId"));
        d->provider = json_string_value(json_object_get(j, "provider"));
        d->credentials = json_object_get(j, "credentials");
        if (d->id && !ctl_delivery_id_is_safe(d->id))
                d->id = NULL;
        if (!json_is_object(j))
                return "malformed";
        if (!json_is_string(t))
                return "token-missing";
        if (!secret_equal(json_string_value(t), json_string_length(t), token))
                return "token-wrong";
        /* The session id names a file on the host, <id>.json: the agent's
         * grammar has no '/', and with the suffix no id names "." or "..".
         * An id the agent takes and this refused would be resent, refused
         * again, and never arrive. */
        if (!d->id || !session_id_is_valid(d->sid) || !provider_id_is_valid(d->provider) ||
            !json_is_object(d->credentials))
                return "malformed";
        return NULL;
}
