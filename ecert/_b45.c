/* Base45 (RFC 9285) decoding in C: the verification hot path's text decoder.
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

static PyMethodDef methods[] = {
    {"decode", b45_decode, METH_O, "Decode Base45 text to bytes; ValueError if invalid."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_b45", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__b45(void)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    for (int i = 0; i < 256; i++)
        VALUE[i] = -1;
    for (int i = 0; i < 45; i++)
        VALUE[(unsigned char)alphabet[i]] = (signed char)i;
    return PyModule_Create(&module);
}
