/* The C speed-ups of the verification hot path.
 *
 * - Base45 (RFC 9285) encode/decode: ecert/b45.py holds the reference Python
 *   implementation and falls back to it when this extension is not built.
 * - decode_ec1(): EC1 text -> Base45 -> zlib -> COSE_Sign1 -> CWT claims in one
 *   call, for the common, well-formed case only. It never decides an error: on
 *   anything outside its strict subset (a bad character, a truncated stream, a
 *   tag, a float, a duplicate key, an unusual header...) it answers None and the
 *   reference pipeline in Python (ecert/verify.py) reads the text again and names
 *   the failure exactly as the format spec's table says. A differential test
 *   (tests/test_fastpath.py) holds the two to the same answers.
 * - ecdsa_der(): a raw r||s ECDSA signature as the DER SEQUENCE cryptography wants.
 *
 * No signature is checked here: that stays with cryptography (ecert/keys.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

/* ---------------------------------------------------------------- Base45 */

static signed char VALUE[256];
static const char ALPHABET[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/* Decode n characters at s into o (room for n/3*2+1 bytes); returns the length or -1. */
static Py_ssize_t
b45_decode_into(const unsigned char *s, Py_ssize_t n, unsigned char *o)
{
    unsigned char *start = o;
    Py_ssize_t i = 0;
    if (n % 3 == 1)
        return -1;
    for (; i + 3 <= n; i += 3) {
        int c = VALUE[s[i]], d = VALUE[s[i + 1]], e = VALUE[s[i + 2]];
        if ((c | d | e) < 0)
            return -1;
        long v = c + d * 45L + e * 2025L;
        if (v > 0xFFFF)
            return -1;
        *o++ = (unsigned char)(v >> 8);
        *o++ = (unsigned char)(v & 0xFF);
    }
    if (i < n) {
        int c = VALUE[s[i]], d = VALUE[s[i + 1]];
        if ((c | d) < 0)
            return -1;
        long v = c + d * 45L;
        if (v > 0xFF)
            return -1;
        *o++ = (unsigned char)v;
    }
    return o - start;
}

static PyObject *
b45_decode(PyObject *self, PyObject *arg)
{
    const unsigned char *s;
    Py_ssize_t n;
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "decode() takes a str");
        return NULL;
    }
    s = (const unsigned char *)PyUnicode_AsUTF8AndSize(arg, &n);
    if (s == NULL)
        return NULL;
    if (n % 3 == 1) {
        PyErr_SetString(PyExc_ValueError, "Base45 text length leaves a single character");
        return NULL;
    }
    Py_ssize_t out_len = (n / 3) * 2 + (n % 3 == 2 ? 1 : 0);
    PyObject *out = PyBytes_FromStringAndSize(NULL, out_len);
    if (out == NULL)
        return NULL;
    if (b45_decode_into(s, n, (unsigned char *)PyBytes_AS_STRING(out)) < 0) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_ValueError, "invalid Base45 group");
        return NULL;
    }
    return out;
}

static PyObject *
b45_encode(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *d = (const unsigned char *)view.buf;
    Py_ssize_t n = view.len;
    Py_ssize_t out_len = (n / 2) * 3 + (n % 2 ? 2 : 0);
    PyObject *out = PyUnicode_New(out_len, 127);
    if (out == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(out);
    Py_ssize_t i = 0;
    for (; i + 2 <= n; i += 2) {
        unsigned v = ((unsigned)d[i] << 8) | d[i + 1];
        *o++ = ALPHABET[v % 45];
        v /= 45;
        *o++ = ALPHABET[v % 45];
        *o++ = ALPHABET[v / 45];
    }
    if (i < n) {
        unsigned v = d[i];
        *o++ = ALPHABET[v % 45];
        *o++ = ALPHABET[v / 45];
    }
    PyBuffer_Release(&view);
    return out;
}

/* ---------------------------------------------------------------- strict CBOR subset */

#define MAX_TEXT 4296
#define MAX_COSE (64 * 1024)
#define MAX_DEPTH 16

typedef struct {
    const unsigned char *p, *end;
} cur_t;

/* Reads a head; returns the major type or -1 (indefinite lengths, reserved
 * additional information and truncation all fall outside the subset). */
static int
read_head(cur_t *c, uint64_t *arg)
{
    if (c->p >= c->end)
        return -1;
    unsigned char b = *c->p++;
    int major = b >> 5, info = b & 31;
    if (info < 24) {
        *arg = (uint64_t)info;
        return major;
    }
    int n = info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : info == 27 ? 8 : 0;
    if (n == 0 || c->end - c->p < n)
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | *c->p++;
    *arg = v;
    return major;
}

static PyObject *decode_key(cur_t *c, int depth);

/* One item as a new Python object; NULL means "outside the subset" (a pending
 * exception other than MemoryError is cleared by the caller). */
static PyObject *
decode_item(cur_t *c, int depth)
{
    uint64_t arg;
    const unsigned char *head = c->p;
    int major = read_head(c, &arg);
    if (major < 0 || depth > MAX_DEPTH)
        return NULL;
    switch (major) {
    case 0:
        return PyLong_FromUnsignedLongLong(arg);
    case 1:
        if (arg > (uint64_t)INT64_MAX)
            return NULL;
        return PyLong_FromLongLong(-1 - (int64_t)arg);
    case 2:
    case 3: {
        if (arg > (uint64_t)(c->end - c->p))
            return NULL;
        const char *s = (const char *)c->p;
        c->p += arg;
        if (major == 2)
            return PyBytes_FromStringAndSize(s, (Py_ssize_t)arg);
        return PyUnicode_DecodeUTF8(s, (Py_ssize_t)arg, "strict");
    }
    case 4: {
        if (arg > (uint64_t)(c->end - c->p))
            return NULL;
        PyObject *list = PyList_New((Py_ssize_t)arg);
        if (list == NULL)
            return NULL;
        for (Py_ssize_t i = 0; i < (Py_ssize_t)arg; i++) {
            PyObject *item = decode_item(c, depth + 1);
            if (item == NULL) {
                Py_DECREF(list);
                return NULL;
            }
            PyList_SET_ITEM(list, i, item);
        }
        return list;
    }
    case 5: {
        if (arg > (uint64_t)(c->end - c->p) / 2)
            return NULL;
        PyObject *dict = PyDict_New();
        if (dict == NULL)
            return NULL;
        for (uint64_t i = 0; i < arg; i++) {
            PyObject *k = decode_key(c, depth + 1);
            if (k == NULL)
                goto bad_map;
            /* Keys: integers and text only (what the formats use). */
            if (!(PyLong_CheckExact(k) || PyUnicode_CheckExact(k))) {
                Py_DECREF(k);
                goto bad_map;
            }
            PyObject *v = decode_item(c, depth + 1);
            if (v == NULL) {
                Py_DECREF(k);
                goto bad_map;
            }
            int rc = PyDict_SetItem(dict, k, v);
            Py_DECREF(k);
            Py_DECREF(v);
            /* A duplicate key replaces instead of adding: the map is outside the subset. */
            if (rc < 0 || PyDict_GET_SIZE(dict) != (Py_ssize_t)i + 1)
                goto bad_map;
        }
        return dict;
    bad_map:
        Py_DECREF(dict);
        return NULL;
    }
    case 7:
        if (head[0] == 0xf4)
            Py_RETURN_FALSE;
        if (head[0] == 0xf5)
            Py_RETURN_TRUE;
        if (head[0] == 0xf6)
            Py_RETURN_NONE;
        return NULL;
    default: /* tags */
        return NULL;
    }
}

/* Map keys repeat from one credential to the next (claim and field names): short ASCII
 * text keys come from a small cache, which saves decoding and hashing them each time. */
#define KEY_SLOTS 128
static PyObject *key_cache[KEY_SLOTS];

static PyObject *
decode_key(cur_t *c, int depth)
{
    const unsigned char *p = c->p;
    if (p < c->end && (*p >> 5) == 3 && (*p & 31) < 24) {
        Py_ssize_t n = *p & 31;
        const unsigned char *s = p + 1;
        if (n > 0 && n <= c->end - s) {
            unsigned h = (unsigned)n;
            int ascii = 1;
            for (Py_ssize_t i = 0; i < n; i++) {
                h = h * 31 + s[i];
                ascii &= s[i] < 0x80;
            }
            if (ascii) {
                PyObject **slot = &key_cache[h % KEY_SLOTS];
                PyObject *k = *slot;
                if (k == NULL || PyUnicode_GET_LENGTH(k) != n || memcmp(PyUnicode_1BYTE_DATA(k), s, n) != 0) {
                    k = PyUnicode_FromStringAndSize((const char *)s, n);
                    if (k == NULL)
                        return NULL;
                    PyUnicode_InternInPlace(&k);
                    Py_XSETREF(*slot, k);
                }
                c->p = s + n;
                Py_INCREF(k);
                return k;
            }
        }
    }
    return decode_item(c, depth);
}

/* Exactly one item filling [p, end). */
static PyObject *
decode_all(const unsigned char *p, Py_ssize_t n)
{
    cur_t c = {p, p + n};
    PyObject *obj = decode_item(&c, 0);
    if (obj != NULL && c.p != c.end) {
        Py_DECREF(obj);
        return NULL;
    }
    return obj;
}

/* A definite byte string at the cursor: its bytes and length, or -1. */
static Py_ssize_t
read_bstr(cur_t *c, const unsigned char **out)
{
    uint64_t arg;
    if (read_head(c, &arg) != 2 || arg > (uint64_t)(c->end - c->p))
        return -1;
    *out = c->p;
    c->p += arg;
    return (Py_ssize_t)arg;
}

static unsigned char *
put_bstr_head(unsigned char *o, Py_ssize_t n)
{
    if (n < 24) {
        *o++ = (unsigned char)(0x40 | n);
    } else if (n < 0x100) {
        *o++ = 0x58;
        *o++ = (unsigned char)n;
    } else if (n < 0x10000) {
        *o++ = 0x59;
        *o++ = (unsigned char)(n >> 8);
        *o++ = (unsigned char)n;
    } else {
        *o++ = 0x5a;
        *o++ = (unsigned char)(n >> 24);
        *o++ = (unsigned char)(n >> 16);
        *o++ = (unsigned char)(n >> 8);
        *o++ = (unsigned char)n;
    }
    return o;
}

/* ---------------------------------------------------------------- claims */

/* The claims' number bounds (ecert.format.credential; a test holds them equal). */
#define MAX_TIME 253402300799LL /* the last second of 9999 (UTC) */
#define MAX_TYPE_VERSION 10000
#define MAX_STATUS_IDX (4LL * 16 * 1024 * 1024 - 1)

/* An exact int (not a bool) in [lo, hi]; never leaves an exception set. */
static int
int_in(PyObject *o, long long lo, long long hi)
{
    int overflow = 0;
    if (o == NULL || !PyLong_CheckExact(o))
        return 0;
    long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || (x == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    return lo <= x && x <= hi;
}

static PyObject *K_ISS, *K_EXP, *K_NBF, *K_IAT, *K_CTI, *K_STATUS, *K_ECERT, *K_ALG, *K_KID;
static PyObject *S_T, *S_V, *S_D, *S_STATUS_LIST, *S_URI, *S_IDX;

static PyObject *
hex_of(PyObject *b)
{
    static const char DIGITS[] = "0123456789abcdef";
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(b);
    PyObject *out = PyUnicode_New(2 * n, 127);
    if (out == NULL)
        return NULL;
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        *o++ = DIGITS[p[i] >> 4];
        *o++ = DIGITS[p[i] & 15];
    }
    return out;
}

/* The claims map as the tuple (iss, iat, exp, nbf, cti, type, version, fields,
 * status_uri, status_idx, json_fields), or NULL (no exception) when the map is
 * not of the spec's shape: then ecert.credential.parse_claims names the fault. */
static PyObject *
claims_tuple(PyObject *obj)
{
    if (!PyDict_CheckExact(obj))
        return NULL;
    PyObject *iss = PyDict_GetItemWithError(obj, K_ISS);
    PyObject *exp = PyDict_GetItemWithError(obj, K_EXP);
    PyObject *iat = PyDict_GetItemWithError(obj, K_IAT);
    PyObject *nbf = PyDict_GetItemWithError(obj, K_NBF);
    PyObject *cti = PyDict_GetItemWithError(obj, K_CTI);
    PyObject *ec = PyDict_GetItemWithError(obj, K_ECERT);
    PyObject *st = PyDict_GetItemWithError(obj, K_STATUS);
    if (PyErr_Occurred())
        return NULL;
    if (iss == NULL || !PyUnicode_CheckExact(iss) || PyUnicode_GET_LENGTH(iss) == 0)
        return NULL;
    /* Times: epoch seconds of 1970..9999; nbf absent or such a time (never null). */
    if (!int_in(exp, 0, MAX_TIME) || !int_in(iat, 0, MAX_TIME))
        return NULL;
    if (nbf == NULL)
        nbf = Py_None;
    else if (!int_in(nbf, 0, MAX_TIME))
        return NULL;
    if (cti == NULL || !PyBytes_CheckExact(cti) || PyBytes_GET_SIZE(cti) != 16)
        return NULL;
    if (ec == NULL || !PyDict_CheckExact(ec))
        return NULL;
    PyObject *t = PyDict_GetItemWithError(ec, S_T);
    PyObject *v = PyDict_GetItemWithError(ec, S_V);
    PyObject *d = PyDict_GetItemWithError(ec, S_D);
    if (PyErr_Occurred())
        return NULL;
    if (t == NULL || !PyUnicode_CheckExact(t) || !int_in(v, 1, MAX_TYPE_VERSION) || d == NULL ||
        !PyDict_CheckExact(d))
        return NULL;
    PyObject *uri = Py_None, *idx = Py_None;
    if (st != NULL) {
        PyObject *sl = PyDict_CheckExact(st) ? PyDict_GetItemWithError(st, S_STATUS_LIST) : NULL;
        if (sl == NULL || !PyDict_CheckExact(sl))
            return NULL;
        uri = PyDict_GetItemWithError(sl, S_URI);
        idx = PyDict_GetItemWithError(sl, S_IDX);
        if (uri == NULL || !PyUnicode_CheckExact(uri) || !int_in(idx, 0, MAX_STATUS_IDX))
            return NULL;
    }
    /* Fields: text names to text, integers, booleans or byte strings; the JSON
     * form shows byte strings as lower-case hex. */
    Py_ssize_t pos = 0, n_bytes = 0;
    PyObject *k, *val;
    while (PyDict_Next(d, &pos, &k, &val)) {
        if (!PyUnicode_CheckExact(k))
            return NULL;
        if (PyBytes_CheckExact(val))
            n_bytes++;
        else if (!(PyUnicode_CheckExact(val) || PyLong_CheckExact(val) || PyBool_Check(val)))
            return NULL;
    }
    PyObject *json = PyDict_Copy(d);
    if (json == NULL)
        return NULL;
    pos = 0;
    while (n_bytes && PyDict_Next(d, &pos, &k, &val)) {
        if (!PyBytes_CheckExact(val))
            continue;
        n_bytes--;
        PyObject *jv = hex_of(val);
        if (jv == NULL || PyDict_SetItem(json, k, jv) < 0) {
            Py_XDECREF(jv);
            Py_DECREF(json);
            return NULL;
        }
        Py_DECREF(jv);
    }
    PyObject *out = PyTuple_Pack(11, iss, iat, exp, nbf, cti, t, v, d, uri, idx, json);
    Py_DECREF(json);
    return out;
}

/* ---------------------------------------------------------------- decode_ec1 */

/* Buffers and the inflate state are used with the GIL held and never re-entered. */
static unsigned char cose_buf[MAX_COSE + 1];

static PyObject *decode_ec1_once(PyObject *text);

/* The buffers above are shared: a call made while one is under way (possible only from a
 * finaliser run by the garbage collector during an allocation) takes the reference path. */
static int decoding = 0;

static PyObject *
decode_ec1(PyObject *self, PyObject *text)
{
    if (decoding)
        Py_RETURN_NONE;
    decoding = 1;
    PyObject *out = decode_ec1_once(text);
    decoding = 0;
    return out;
}

static PyObject *
decode_ec1_once(PyObject *text)
{
    unsigned char zbuf[MAX_TEXT / 3 * 2 + 2];
    if (!PyUnicode_CheckExact(text))
        Py_RETURN_NONE;
    if (PyUnicode_READY(text) < 0)
        return NULL;
    if (!PyUnicode_IS_ASCII(text))
        Py_RETURN_NONE;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    const unsigned char *s = PyUnicode_1BYTE_DATA(text);
    if (n > MAX_TEXT || n < 4 || memcmp(s, "EC1:", 4) != 0)
        Py_RETURN_NONE;
    Py_ssize_t zlen = b45_decode_into(s + 4, n - 4, zbuf);
    if (zlen < 0)
        Py_RETURN_NONE;

    /* One inflate state, reset for each text (initialising one costs an allocation). */
    static z_stream zs;
    static int zs_ready = 0;
    if (!zs_ready) {
        if (inflateInit2(&zs, MAX_WBITS) != Z_OK)
            return PyErr_NoMemory();
        zs_ready = 1;
    } else if (inflateReset(&zs) != Z_OK) {
        Py_RETURN_NONE;
    }
    zs.next_in = zbuf;
    zs.avail_in = (uInt)zlen;
    zs.next_out = cose_buf;
    zs.avail_out = sizeof cose_buf;
    int zrc = inflate(&zs, Z_FINISH);
    Py_ssize_t clen = (Py_ssize_t)zs.total_out;
    if (!(zrc == Z_STREAM_END && zs.avail_in == 0 && clen <= MAX_COSE))
        Py_RETURN_NONE;

    /* COSE_Sign1: [protected: bstr, unprotected: {}, payload: bstr, signature: bstr], tag 18 optional. */
    cur_t c = {cose_buf, cose_buf + clen};
    if (c.p < c.end && *c.p == 0xd2)
        c.p++;
    if (c.p >= c.end || *c.p++ != 0x84)
        Py_RETURN_NONE;
    const unsigned char *prot, *payload, *sig;
    Py_ssize_t prot_len = read_bstr(&c, &prot);
    if (prot_len <= 0 || c.p >= c.end || *c.p++ != 0xa0)
        Py_RETURN_NONE;
    Py_ssize_t payload_len = read_bstr(&c, &payload);
    if (payload_len < 0)
        Py_RETURN_NONE;
    Py_ssize_t sig_len = read_bstr(&c, &sig);
    if (sig_len < 0 || c.p != c.end)
        Py_RETURN_NONE;

    PyObject *headers = NULL, *alg = NULL, *kid = NULL, *claims = NULL, *result = NULL;
    PyObject *tbs = NULL, *sig_obj = NULL, *payload_obj = NULL, *raw = NULL;
    headers = decode_all(prot, prot_len);
    if (headers == NULL || !PyDict_CheckExact(headers))
        goto fallback;
    alg = PyDict_GetItemWithError(headers, K_ALG);
    kid = PyDict_GetItemWithError(headers, K_KID);
    if (alg == NULL || kid == NULL || !PyLong_CheckExact(alg) || !PyBytes_CheckExact(kid) ||
        PyBytes_GET_SIZE(kid) == 0)
        goto fallback;
    {
        long a = PyLong_AsLong(alg);
        if (a != -7 && a != -8)
            goto fallback;
    }
    /* Sig_structure = ["Signature1", protected, h'', payload] */
    tbs = PyBytes_FromStringAndSize(NULL, 12 + 5 + prot_len + 1 + 5 + payload_len);
    if (tbs == NULL)
        goto fallback;
    {
        unsigned char *o = (unsigned char *)PyBytes_AS_STRING(tbs), *o0 = o;
        memcpy(o, "\x84\x6aSignature1", 12);
        o = put_bstr_head(o + 12, prot_len);
        memcpy(o, prot, prot_len);
        o += prot_len;
        *o++ = 0x40;
        o = put_bstr_head(o, payload_len);
        memcpy(o, payload, payload_len);
        o += payload_len;
        if (_PyBytes_Resize(&tbs, o - o0) < 0)
            goto fallback;
    }
    sig_obj = PyBytes_FromStringAndSize((const char *)sig, sig_len);
    payload_obj = PyBytes_FromStringAndSize((const char *)payload, payload_len);
    if (sig_obj == NULL || payload_obj == NULL)
        goto fallback;
    raw = decode_all(payload, payload_len);
    if (raw != NULL)
        claims = claims_tuple(raw);
    if (claims == NULL) {
        if (PyErr_Occurred() && PyErr_ExceptionMatches(PyExc_MemoryError))
            goto fallback;
        PyErr_Clear();
        claims = Py_None;
        Py_INCREF(claims);
    }
    result = PyTuple_Pack(6, alg, kid, tbs, sig_obj, payload_obj, claims);
fallback:
    Py_XDECREF(headers);
    Py_XDECREF(tbs);
    Py_XDECREF(sig_obj);
    Py_XDECREF(payload_obj);
    Py_XDECREF(raw);
    Py_XDECREF(claims);
    if (result != NULL)
        return result;
    if (PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError))
            return NULL;
        PyErr_Clear();
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- ECDSA signature form */

static unsigned char *
put_der_int(unsigned char *o, const unsigned char *x)
{
    int i = 0;
    while (i < 31 && x[i] == 0)
        i++;
    int len = 32 - i, pad = x[i] & 0x80 ? 1 : 0;
    *o++ = 0x02;
    *o++ = (unsigned char)(len + pad);
    if (pad)
        *o++ = 0;
    memcpy(o, x + i, len);
    return o + len;
}

static PyObject *
ecdsa_der(PyObject *self, PyObject *arg)
{
    if (!PyBytes_Check(arg) || PyBytes_GET_SIZE(arg) != 64) {
        PyErr_SetString(PyExc_ValueError, "an ES256 signature is 64 bytes");
        return NULL;
    }
    const unsigned char *rs = (const unsigned char *)PyBytes_AS_STRING(arg);
    unsigned char buf[2 + 2 * 35], *o = buf + 2;
    o = put_der_int(o, rs);
    o = put_der_int(o, rs + 32);
    buf[0] = 0x30;
    buf[1] = (unsigned char)(o - buf - 2);
    return PyBytes_FromStringAndSize((const char *)buf, o - buf);
}

/* ---------------------------------------------------------------- identifiers */

/* Unpadded upper-case base32 (RFC 4648): how a credential id is shown to people. */
static PyObject *
b32(PyObject *self, PyObject *arg)
{
    static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    if (!PyBytes_Check(arg) || PyBytes_GET_SIZE(arg) > 1024) {
        PyErr_SetString(PyExc_ValueError, "b32() takes at most 1,024 bytes");
        return NULL;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(arg);
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(arg);
    PyObject *out = PyUnicode_New((n * 8 + 4) / 5, 127);
    if (out == NULL)
        return NULL;
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(out);
    uint32_t acc = 0;
    int bits = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            *o++ = B32[(acc >> bits) & 31];
        }
    }
    if (bits > 0)
        *o++ = B32[(acc << (5 - bits)) & 31];
    return out;
}

/* ISO/IEC 7064 MOD 37,36 check character of [0-9A-Z]* text; None for any other character. */
static PyObject *
mod37_36(PyObject *self, PyObject *arg)
{
    static const char ALNUM36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "mod37_36() takes a str");
        return NULL;
    }
    if (PyUnicode_READY(arg) < 0)
        return NULL;
    if (!PyUnicode_IS_ASCII(arg))
        Py_RETURN_NONE;
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(arg);
    int p = 36;
    for (Py_ssize_t i = 0; i < n; i++) {
        int v;
        if (s[i] >= '0' && s[i] <= '9')
            v = s[i] - '0';
        else if (s[i] >= 'A' && s[i] <= 'Z')
            v = s[i] - 'A' + 10;
        else
            Py_RETURN_NONE;
        p = (p + v) % 36;
        if (p == 0)
            p = 36;
        p = p * 2 % 37;
    }
    return PyUnicode_FromStringAndSize(&ALNUM36[(37 - p) % 36], 1);
}

/* ``format: date``: YYYY-MM-DD in ASCII digits, a real date of years 0001..9999 (what
 * jsonschema's regex and date.fromisoformat accept together). */
static PyObject *
is_date(PyObject *self, PyObject *arg)
{
    static const int DAYS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "is_date() takes a str");
        return NULL;
    }
    if (PyUnicode_READY(arg) < 0)
        return NULL;
    if (!PyUnicode_IS_ASCII(arg) || PyUnicode_GET_LENGTH(arg) != 10)
        Py_RETURN_FALSE;
    const Py_UCS1 *d = PyUnicode_1BYTE_DATA(arg);
    static const int DIGITS[] = {0, 1, 2, 3, 5, 6, 8, 9};
    for (int i = 0; i < 8; i++)
        if (d[DIGITS[i]] < '0' || d[DIGITS[i]] > '9')
            Py_RETURN_FALSE;
    if (d[4] != '-' || d[7] != '-')
        Py_RETURN_FALSE;
    int year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
    int month = (d[5] - '0') * 10 + (d[6] - '0'), day = (d[8] - '0') * 10 + (d[9] - '0');
    if (year < 1 || month < 1 || month > 12 || day < 1)
        Py_RETURN_FALSE;
    int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (day > DAYS[month - 1] + (month == 2 && leap))
        Py_RETURN_FALSE;
    Py_RETURN_TRUE;
}

/* ---------------------------------------------------------------- module */

static PyMethodDef methods[] = {
    {"decode", b45_decode, METH_O, "Decode Base45 text to bytes; ValueError if invalid."},
    {"encode", b45_encode, METH_O, "Encode bytes as Base45 text."},
    {"decode_ec1", decode_ec1, METH_O,
     "EC1 text to (alg, kid, to_be_signed, signature, payload, claims), claims being the tuple "
     "(iss, iat, exp, nbf, cti, type, version, fields, status_uri, status_idx, json_fields) or None; "
     "None as a whole when the text is outside the fast subset."},
    {"ecdsa_der", ecdsa_der, METH_O, "A 64-byte r||s ECDSA signature as DER."},
    {"b32", b32, METH_O, "Unpadded upper-case base32 of at most 1,024 bytes."},
    {"mod37_36", mod37_36, METH_O, "MOD 37,36 check character of [0-9A-Z]* text, or None."},
    {"is_date", is_date, METH_O, "True for YYYY-MM-DD (ASCII digits) naming a real date."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast", NULL, -1, methods};

static int
init_constants(void)
{
    K_ISS = PyLong_FromLong(1);
    K_EXP = PyLong_FromLong(4);
    K_NBF = PyLong_FromLong(5);
    K_IAT = PyLong_FromLong(6);
    K_CTI = PyLong_FromLong(7);
    K_STATUS = PyLong_FromLong(65535);
    K_ECERT = PyLong_FromLong(-70000);
    K_ALG = PyLong_FromLong(1);
    K_KID = PyLong_FromLong(4);
    S_T = PyUnicode_InternFromString("t");
    S_V = PyUnicode_InternFromString("v");
    S_D = PyUnicode_InternFromString("d");
    S_STATUS_LIST = PyUnicode_InternFromString("status_list");
    S_URI = PyUnicode_InternFromString("uri");
    S_IDX = PyUnicode_InternFromString("idx");
    return (K_ISS && K_EXP && K_NBF && K_IAT && K_CTI && K_STATUS && K_ECERT && K_ALG && K_KID && S_T && S_V &&
            S_D && S_STATUS_LIST && S_URI && S_IDX) ? 0 : -1;
}

PyMODINIT_FUNC
PyInit__fast(void)
{
    for (int i = 0; i < 256; i++)
        VALUE[i] = -1;
    for (int i = 0; i < 45; i++)
        VALUE[(unsigned char)ALPHABET[i]] = (signed char)i;
    if (init_constants() < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    /* The format's bounds, compiled in: a test holds them to ecert.credential's. */
    if (m != NULL && (PyModule_AddIntConstant(m, "MAX_TEXT", MAX_TEXT) < 0 ||
                      PyModule_AddIntConstant(m, "MAX_COSE", MAX_COSE) < 0 ||
                      PyModule_AddObject(m, "MAX_TIME", PyLong_FromLongLong(MAX_TIME)) < 0 ||
                      PyModule_AddIntConstant(m, "MAX_TYPE_VERSION", MAX_TYPE_VERSION) < 0 ||
                      PyModule_AddObject(m, "MAX_STATUS_IDX", PyLong_FromLongLong(MAX_STATUS_IDX)) < 0)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
