/*
 * A small application embedding the Usagi SDK through its C API.
 *
 *   cc example.c -I ../../include -L <dir of libusagi_sdk_ffi> -lusagi_sdk_ffi -o example
 *   ./example <data dir> <server url> <product id> <product secret>
 */
#include <stdio.h>

#include "usagi.h"

static int failed(UsagiStatus status, const char *what) {
    if (status == USAGI_OK) {
        return 0;
    }
    char *message = usagi_last_error();
    fprintf(stderr, "%s failed (%d): %s\n", what, (int)status, message ? message : "?");
    usagi_string_free(message);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s <data dir> <server url> <product id> <secret>\n", argv[0]);
        return 2;
    }
    UsagiConfig config = {
        .data_dir = argv[1],
        .product_id = argv[3],
        .app_name = "CExample",
        .server_url = argv[2],
        .secret = argv[4],
        .multi_session = 0,
    };
    UsagiSdk *sdk = NULL;
    if (failed(usagi_create(&config, &sdk), "usagi_create")) {
        return 1;
    }
    char *client = usagi_client_id(sdk);
    printf("client %s\n", client);
    usagi_string_free(client);

    /* Product data and custom properties are sent at every start. */
    if (failed(usagi_set_product_data(sdk, "Pro", "en", "1.0", "100"), "usagi_set_product_data") ||
        failed(usagi_set_custom_property(sdk, 1, "c-example"), "usagi_set_custom_property") ||
        failed(usagi_set_license_data(sdk, USAGI_LICENSE_PURCHASED, 0, 1, -1, -1), "usagi_set_license_data") ||
        failed(usagi_start(sdk), "usagi_start")) {
        usagi_destroy(sdk);
        return 1;
    }

    const char *keys[] = {"pages", "format"};
    const char *values[] = {"12", "A4"};
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        bad |= failed(usagi_track_event(sdk, "C API", "Open", NULL), "usagi_track_event");
    }
    bad |= failed(usagi_track_event_numeric(sdk, "C API", "Export", 2.5, NULL), "usagi_track_event_numeric");
    bad |= failed(usagi_track_event_text(sdk, "C API", "Theme", "dark", NULL), "usagi_track_event_text");
    bad |= failed(usagi_track_event_custom(sdk, "C API", "Print", keys, values, 2, NULL), "usagi_track_event_custom");
    bad |= failed(usagi_track_exception(sdk, "Example", "main", "demo exception", NULL, NULL), "usagi_track_exception");

    /* Errors are status codes, with a message for the calling thread. */
    if (usagi_track_event(sdk, NULL, "   ", NULL) != USAGI_ERR_EMPTY) {
        fprintf(stderr, "an empty event name was accepted\n");
        bad = 1;
    }

    UsagiLicense license;
    if (!failed(usagi_license_set(sdk, "C-KEY-0001", &license), "usagi_license_set")) {
        printf("license known=%d type=%d allowed=%d\n", license.known, license.license_type, license.allowed);
        usagi_license_free(&license);
    } else {
        bad = 1;
    }

    bad |= failed(usagi_stop(sdk, 10000), "usagi_stop");
    printf("state %d\n", (int)usagi_get_state(sdk));
    usagi_destroy(sdk);
    return bad;
}
