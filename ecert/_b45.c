/* Base45 (RFC 9285) in C: the text codec of the issuing and verifying hot paths.
 * ecert/b45.py holds the reference Python implementation and falls back to it
 * when this extension is not built. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static signed char VALUE[256];

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
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    Py_ssize_t i = 0;
    for (; i + 3 <= n; i += 3) {
        int c = VALUE[s[i]], d = VALUE[s[i + 1]], e = VALUE[s[i + 2]];
        if ((c | d | e) < 0)
            goto invalid;
        long v = c + d * 45L + e * 2025L;
        if (v > 0xFFFF)
            goto invalid;
        *o++ = (unsigned char)(v >> 8);
        *o++ = (unsigned char)(v & 0xFF);
    }
    if (i < n) {
        int c = VALUE[s[i]], d = VALUE[s[i + 1]];
        if ((c | d) < 0)
            goto invalid;
        long v = c + d * 45L;
        if (v > 0xFF)
            goto invalid;
        *o++ = (unsigned char)v;
    }
    return out;
invalid:
    Py_DECREF(out);
    PyErr_SetString(PyExc_ValueError, "invalid Base45 group");
    return NULL;
}

static const char ALPHABET[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

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

static PyMethodDef methods[] = {
    {"decode", b45_decode, METH_O, "Decode Base45 text to bytes; ValueError if invalid."},
    {"encode", b45_encode, METH_O, "Encode bytes as Base45 text."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_b45", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__b45(void)
{
    for (int i = 0; i < 256; i++)
        VALUE[i] = -1;
    for (int i = 0; i < 45; i++)
        VALUE[(unsigned char)ALPHABET[i]] = (signed char)i;
    return PyModule_Create(&module);
}
