//! The C ABI's contract, called from Rust: NULLs and bad UTF-8 are status codes, errors
//! carry a message for the calling thread, returned strings are freed by the caller.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use usagi_sdk_ffi::*;

fn take(s: *mut c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    let out = unsafe { CStr::from_ptr(s) }.to_str().unwrap().to_owned();
    unsafe { usagi_string_free(s) };
    Some(out)
}

#[test]
fn handles_statuses_and_strings() {
    let dir = tempfile::tempdir().unwrap();
    let data = CString::new(dir.path().to_str().unwrap()).unwrap();
    let product = CString::new("2376158762").unwrap();
    let app = CString::new("AbiTest").unwrap();
    let url = CString::new("http://127.0.0.1:9").unwrap();
    let secret = CString::new("8f3a61c2d94b07e5a1c6f0d2b7e49a35").unwrap();
    let mut config = UsagiConfig {
        data_dir: data.as_ptr(),
        product_id: product.as_ptr(),
        app_name: app.as_ptr(),
        server_url: url.as_ptr(),
        secret: secret.as_ptr(),
        multi_session: 0,
    };
    unsafe {
        let mut sdk: *mut UsagiSdk = ptr::null_mut();
        assert_eq!(usagi_create(ptr::null(), &mut sdk), UsagiStatus::UsagiErrInvalidArgument);
        assert_eq!(take(usagi_last_error()).as_deref(), Some("config is NULL"));
        let bad = CString::new("12").unwrap();
        config.product_id = bad.as_ptr();
        assert_eq!(usagi_create(&config, &mut sdk), UsagiStatus::UsagiErrInvalidProductId);
        assert_eq!(take(usagi_last_error()).as_deref(), Some("product id must be 10 digits"));
        config.product_id = product.as_ptr();
        assert_eq!(usagi_create(&config, &mut sdk), UsagiStatus::UsagiOk);
        assert!(!sdk.is_null());

        let id = take(usagi_client_id(sdk)).unwrap();
        assert_eq!(id.len(), 16);
        assert_eq!(usagi_get_state(sdk), UsagiState::UsagiStateCreated);
        let name = CString::new("Open").unwrap();
        assert_eq!(usagi_track_event(sdk, ptr::null(), name.as_ptr(), ptr::null()), UsagiStatus::UsagiErrWrongState);
        assert_eq!(usagi_start(sdk), UsagiStatus::UsagiOk);
        assert_eq!(usagi_track_event(sdk, ptr::null(), name.as_ptr(), ptr::null()), UsagiStatus::UsagiOk);
        assert_eq!(usagi_track_event(sdk, ptr::null(), ptr::null(), ptr::null()), UsagiStatus::UsagiErrInvalidArgument);
        let not_utf8 = [0xffu8 as c_char, 0];
        assert_eq!(
            usagi_track_event(sdk, not_utf8.as_ptr(), name.as_ptr(), ptr::null()),
            UsagiStatus::UsagiErrInvalidArgument
        );
        assert_eq!(take(usagi_last_error()).as_deref(), Some("a string is not valid UTF-8"));
        assert_eq!(
            usagi_track_event_numeric(sdk, ptr::null(), name.as_ptr(), f64::INFINITY, ptr::null()),
            UsagiStatus::UsagiErrNonFiniteValue
        );
        assert_eq!(usagi_set_custom_property(sdk, 0, ptr::null()), UsagiStatus::UsagiErrInvalidCustomIndex);
        assert_eq!(usagi_set_license_data(sdk, 42, -1, -1, -1, -1), UsagiStatus::UsagiErrInvalidArgument);
        assert_eq!(usagi_set_license_data(sdk, USAGI_LICENSE_PURCHASED, 0, 1, -1, -1), UsagiStatus::UsagiOk);
        let key = CString::new("k").unwrap();
        assert_eq!(
            usagi_track_event_custom(sdk, ptr::null(), name.as_ptr(), ptr::null(), ptr::null(), 1, ptr::null()),
            UsagiStatus::UsagiErrInvalidArgument
        );
        let keys = [key.as_ptr()];
        let values = [ptr::null()];
        assert_eq!(
            usagi_track_event_custom(sdk, ptr::null(), name.as_ptr(), keys.as_ptr(), values.as_ptr(), 1, ptr::null()),
            UsagiStatus::UsagiOk
        );
        assert_eq!(usagi_stop(sdk, 0), UsagiStatus::UsagiOk);
        assert_eq!(usagi_get_state(sdk), UsagiState::UsagiStateStopped);
        usagi_destroy(sdk);

        // A NULL handle is an argument error everywhere, never a crash.
        assert_eq!(usagi_start(ptr::null()), UsagiStatus::UsagiErrInvalidArgument);
        assert_eq!(usagi_get_state(ptr::null()), UsagiState::UsagiStateInvalid);
        assert!(usagi_client_id(ptr::null()).is_null());
        usagi_destroy(ptr::null_mut());
        usagi_string_free(ptr::null_mut());
        usagi_license_free(ptr::null_mut());
    }
}
