#pragma once
#include <curl/curl.h>

// libcurl's setopt/getinfo are variadic, which Swift cannot import: typed wrappers, one per argument kind.
CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode ccurl_setopt_write_function(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *), void *userdata);
CURLcode ccurl_setopt_header_function(CURL *handle, size_t (*callback)(char *, size_t, size_t, void *), void *userdata);
CURLcode ccurl_setopt_xferinfo_function(CURL *handle,
                                        int (*callback)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t),
                                        void *userdata);
CURLcode ccurl_setopt_opensocket_function(CURL *handle,
                                          curl_socket_t (*callback)(void *, curlsocktype, struct curl_sockaddr *),
                                          void *userdata);
CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *out);
CURLcode ccurl_getinfo_string(CURL *handle, CURLINFO info, char **out);
CURLcode ccurl_getinfo_double(CURL *handle, CURLINFO info, double *out);

// gzip decoding (zlib, the library curl itself decodes with): for saved `.html.gz` pages.
// Returns 0 and a malloc'ed buffer the caller frees; -1 corrupt data, -2 output over max_output,
// -3 out of memory, -4 truncated input.
int ccurl_gunzip(const unsigned char *input, size_t length, size_t max_output,
                 unsigned char **output, size_t *output_length);
