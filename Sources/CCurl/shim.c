#include "CCurl.h"

CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value) { return curl_easy_setopt(handle, option, value); }
CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value) { return curl_easy_setopt(handle, option, value); }
CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value) { return curl_easy_setopt(handle, option, value); }
CURLcode ccurl_setopt_write_function(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *), void *userdata) {
    CURLcode rc = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
    return rc != CURLE_OK ? rc : curl_easy_setopt(handle, CURLOPT_WRITEDATA, userdata);
}
CURLcode ccurl_setopt_header_function(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *), void *userdata) {
    CURLcode rc = curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
    return rc != CURLE_OK ? rc : curl_easy_setopt(handle, CURLOPT_HEADERDATA, userdata);
}
CURLcode ccurl_setopt_xferinfo_function(CURL *handle,
                                        int (*callback)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t),
                                        void *userdata) {
    CURLcode rc = curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
    if (rc != CURLE_OK) return rc;
    rc = curl_easy_setopt(handle, CURLOPT_XFERINFODATA, userdata);
    return rc != CURLE_OK ? rc : curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
}
CURLcode ccurl_setopt_opensocket_function(CURL *handle,
                                          curl_socket_t (*callback)(void *, curlsocktype, struct curl_sockaddr *),
                                          void *userdata) {
    CURLcode rc = curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, callback);
    return rc != CURLE_OK ? rc : curl_easy_setopt(handle, CURLOPT_OPENSOCKETDATA, userdata);
}
CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *out) { return curl_easy_getinfo(handle, info, out); }
CURLcode ccurl_getinfo_string(CURL *handle, CURLINFO info, char **out) { return curl_easy_getinfo(handle, info, out); }
CURLcode ccurl_getinfo_double(CURL *handle, CURLINFO info, double *out) { return curl_easy_getinfo(handle, info, out); }
