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

#include <stdlib.h>
#include <zlib.h>

int ccurl_gunzip(const unsigned char *input, size_t length, size_t max_output,
                 unsigned char **output, size_t *output_length) {
    z_stream stream = {0};
    // 16 + MAX_WBITS: expect a gzip header and trailer (not raw zlib).
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return -3;
    size_t capacity = length * 4 + 1024;
    if (capacity > max_output + 1) capacity = max_output + 1;
    unsigned char *buffer = malloc(capacity);
    if (!buffer) { inflateEnd(&stream); return -3; }
    stream.next_in = (unsigned char *)input;
    stream.avail_in = (uInt)length;
    size_t produced = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (produced == capacity) {
            if (capacity > max_output) { free(buffer); inflateEnd(&stream); return -2; }
            size_t grown = capacity * 2;
            if (grown > max_output + 1) grown = max_output + 1;
            unsigned char *bigger = realloc(buffer, grown);
            if (!bigger) { free(buffer); inflateEnd(&stream); return -3; }
            buffer = bigger;
            capacity = grown;
        }
        stream.next_out = buffer + produced;
        stream.avail_out = (uInt)(capacity - produced);
        rc = inflate(&stream, Z_NO_FLUSH);
        produced = capacity - stream.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc == Z_BUF_ERROR && stream.avail_in == 0) { free(buffer); inflateEnd(&stream); return -4; }
        if (rc != Z_OK && rc != Z_BUF_ERROR) { free(buffer); inflateEnd(&stream); return -1; }
    }
    inflateEnd(&stream);
    if (produced > max_output) { free(buffer); return -2; }
    *output = buffer;
    *output_length = produced;
    return 0;
}
