/* The compiled half of assay's HTTP/1.1 client connection (assay.load.http.connection).
 *
 * Why: at wrk-class rates the Python work per response (httptools' callbacks into Python,
 * the head inspection) costs more than the kernel's. Most load-test responses are plain:
 * one read holds a whole HTTP/1.1 response with a Content-Length and nothing the client must
 * act on. `data_received` recognises exactly those here, in one pass, and completes the
 * request (calls the connection's driver or resolves its waiter) without entering Python.
 * Anything else -- a head or body spread over reads, chunked bodies, HTTP/1.0, Connection:
 * close, 1xx/204/304, cookies, compression, obs-fold, stray bytes -- goes to the Python
 * method `_feed(data, now)`, which hands it to httptools as before. The fast path changes no
 * parser state, so both paths can follow each other on one connection.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>
#include <time.h>

typedef struct {
    PyObject_HEAD
    PyObject *waiter;    /* asyncio.Future completed with the response, or None */
    PyObject *driver;    /* callable(conn) -> bool run with each complete response, or None */
    PyObject *head;      /* the read holding the response head (bytes), or None */
    PyObject *last_data; /* the first read of the current response */
    PyObject *chunks;    /* list of body pieces */
    PyObject *special;   /* set-cookie / content-encoding headers, or None (Python path only) */
    double t_first;      /* perf_counter when the response began to arrive; 0.0 before */
    double t_last;       /* perf_counter of the latest read */
    Py_ssize_t received; /* bytes of the current response */
    int status;
    char keep_alive;
    char complete;
    char head_request;
    char closed;
    char discard;        /* discardResponseBodies: the body is counted, never copied */
    Py_ssize_t max_body; /* a longer kept body goes to _feed, which fails the request */
    Py_ssize_t kept;     /* body bytes kept of the current response (the Python path counts) */
} FastConn;

/* The largest response head either path accepts (connection.MAX_HEAD): a longer one goes to
 * `_feed`, which fails the request. */
#define MAX_HEAD (256 * 1024)

/* GC support for both types, driven by their member tables: every T_OBJECT member is a
 * reference the object owns. */
static int
traverse_members(PyObject *self, const PyMemberDef *members, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    for (const PyMemberDef *m = members; m->name != NULL; m++) {
        if (m->type == T_OBJECT) {
            Py_VISIT(*(PyObject **)((char *)self + m->offset));
        }
    }
    return 0;
}

static void
clear_members(PyObject *self, const PyMemberDef *members)
{
    for (const PyMemberDef *m = members; m->name != NULL; m++) {
        if (m->type == T_OBJECT) {
            Py_CLEAR(*(PyObject **)((char *)self + m->offset));
        }
    }
}

static void
dealloc_members(PyObject *self, const PyMemberDef *members)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    clear_members(self, members);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *str_feed;        /* "_feed" */
static PyObject *str_done;        /* "done" */
static PyObject *str_set_result;  /* "set_result" */

/* time.perf_counter() on Linux: CLOCK_MONOTONIC in seconds, converted as CPython converts it */
static double
perf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    if (ns % 1000000000LL == 0) {
        return (double)(ns / 1000000000LL);
    }
    return (double)ns / 1e9;
}

static int
lower_eq(const char *s, Py_ssize_t n, const char *lit)
{
    /* lit is lower-case; s is compared case-insensitively (ASCII) */
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c + 32);
        }
        if (c != lit[i]) {
            return 0;
        }
    }
    return lit[n] == '\0';
}

/* A whole plain response in buf[0:n]? On success returns 1 and sets status, the head's
 * length (through the blank line) and Content-Length. Returns 0 for anything the Python
 * path must handle (see the file's comment). */
static int
scan_plain(const char *buf, Py_ssize_t n, int *status, Py_ssize_t *head_len, Py_ssize_t *clen)
{
    const char *end = buf + n;
    if (n < 17 || memcmp(buf, "HTTP/1.1 ", 9) != 0) {
        return 0;
    }
    const char *d = buf + 9;
    if (d[0] < '1' || d[0] > '5' || d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9') {
        return 0;
    }
    int st = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    if (st < 200 || st == 204 || st == 304) {
        return 0;
    }
    if (d[3] != ' ' && d[3] != '\r') {
        return 0;
    }
    const char *q = memchr(d + 3, '\n', (size_t)(end - (d + 3)));
    if (q == NULL || q[-1] != '\r') {
        return 0;
    }
    const char *p = q + 1;
    long long length = -1;
    for (;;) {
        if (end - p < 2) {
            return 0;
        }
        if (p[0] == '\r' && p[1] == '\n') {
            p += 2;
            break;
        }
        if (p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r') {
            return 0; /* obs-fold or a malformed line: httptools decides */
        }
        q = memchr(p, '\n', (size_t)(end - p));
        if (q == NULL || q[-1] != '\r') {
            return 0;
        }
        const char *line_end = q - 1;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon == NULL) {
            return 0;
        }
        Py_ssize_t name_len = colon - p;
        const char *v = colon + 1;
        const char *v_end = line_end;
        while (v < v_end && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t')) {
            v_end--;
        }
        switch (name_len) {
        case 14:
            if (lower_eq(p, 14, "content-length")) {
                if (length >= 0 || v == v_end || v_end - v > 15) {
                    return 0;
                }
                long long value = 0;
                for (const char *c = v; c < v_end; c++) {
                    if (*c < '0' || *c > '9') {
                        return 0;
                    }
                    value = value * 10 + (*c - '0');
                }
                length = value;
            }
            break;
        case 10:
            if (lower_eq(p, 10, "set-cookie")) {
                return 0;
            }
            if (lower_eq(p, 10, "connection") && !lower_eq(v, v_end - v, "keep-alive")) {
                return 0;
            }
            break;
        case 16:
            if (lower_eq(p, 16, "content-encoding")) {
                return 0;
            }
            break;
        case 17:
            if (lower_eq(p, 17, "transfer-encoding")) {
                return 0;
            }
            break;
        default:
            break;
        }
        p = q + 1;
    }
    if (length < 0 || p - buf > MAX_HEAD) {
        return 0;
    }
    *status = st;
    *head_len = p - buf;
    *clen = (Py_ssize_t)length;
    return 1;
}

/* What httptools' on_message_complete does once a response is complete: the driver first
 * (a request loop sends the next request from here), else resolve the waiter. */
static PyObject *
complete_response(FastConn *self)
{
    PyObject *driver = self->driver;
    if (driver != NULL && driver != Py_None) {
        Py_INCREF(driver);
        PyObject *sent = PyObject_CallOneArg(driver, (PyObject *)self);
        Py_DECREF(driver);
        if (sent == NULL) {
            return NULL;
        }
        int truth = PyObject_IsTrue(sent);
        Py_DECREF(sent);
        if (truth < 0) {
            return NULL;
        }
        if (truth) {
            Py_RETURN_NONE;
        }
    }
    PyObject *waiter = self->waiter;
    if (waiter == NULL || waiter == Py_None) {
        Py_RETURN_NONE;
    }
    self->waiter = Py_None;
    Py_INCREF(Py_None);
    PyObject *done = PyObject_CallMethodNoArgs(waiter, str_done);
    if (done == NULL) {
        Py_DECREF(waiter);
        return NULL;
    }
    int is_done = PyObject_IsTrue(done);
    Py_DECREF(done);
    PyObject *r = NULL;
    if (is_done == 0) {
        r = PyObject_CallMethodOneArg(waiter, str_set_result, Py_None);
    } else if (is_done > 0) {
        r = Py_None;
        Py_INCREF(r);
    }
    Py_DECREF(waiter);
    if (r == NULL) {
        return NULL;
    }
    Py_DECREF(r);
    Py_RETURN_NONE;
}

static void
set_obj(PyObject **slot, PyObject *value)
{
    PyObject *old = *slot;
    Py_INCREF(value);
    *slot = value;
    Py_XDECREF(old);
}

static PyObject *
fc_data_received(FastConn *self, PyObject *data)
{
    double now = perf_now();
    if (self->t_first == 0.0 && !self->head_request && !self->closed && self->waiter != NULL &&
        self->waiter != Py_None && PyBytes_CheckExact(data)) {
        const char *buf = PyBytes_AS_STRING(data);
        Py_ssize_t n = PyBytes_GET_SIZE(data);
        int status;
        Py_ssize_t head_len, clen;
        if (scan_plain(buf, n, &status, &head_len, &clen) && head_len + clen == n &&
            (self->discard || clen <= self->max_body)) {
            /* the empty list the request started with (start/restart set a fresh one) */
            PyObject *chunks = self->chunks;
            if (chunks != NULL && PyList_CheckExact(chunks) && PyList_GET_SIZE(chunks) == 0) {
                Py_INCREF(chunks);
            } else if ((chunks = PyList_New(0)) == NULL) {
                return NULL;
            }
            if (clen > 0 && !self->discard) {
                PyObject *body = PyBytes_FromStringAndSize(buf + head_len, clen);
                if (body == NULL || PyList_Append(chunks, body) < 0) {
                    Py_XDECREF(body);
                    Py_DECREF(chunks);
                    return NULL;
                }
                Py_DECREF(body);
            }
            Py_XSETREF(self->chunks, chunks);
            self->t_first = now;
            self->t_last = now;
            self->received += n;
            self->status = status;
            set_obj(&self->head, data);
            set_obj(&self->last_data, data);
            self->keep_alive = 1;
            self->complete = 1;
            return complete_response(self);
        }
    }
    PyObject *t = PyFloat_FromDouble(now);
    if (t == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_CallMethodObjArgs((PyObject *)self, str_feed, data, t, NULL);
    Py_DECREF(t);
    return r;
}

static PyObject *
fc_scan(PyObject *Py_UNUSED(module), PyObject *data)
{
    /* scan_plain for tests: (status, head length, content length), or None */
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    int status;
    Py_ssize_t head_len, clen;
    int ok = scan_plain((const char *)view.buf, view.len, &status, &head_len, &clen);
    PyBuffer_Release(&view);
    if (!ok) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(inn)", status, head_len, clen);
}

static PyObject *
fc_perf_now(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(arg))
{
    return PyFloat_FromDouble(perf_now());
}

static PyMethodDef fc_methods[] = {
    {"data_received", (PyCFunction)fc_data_received, METH_O,
     "asyncio.Protocol.data_received: plain whole responses here, the rest via self._feed(data, now)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef fc_members[] = {
    {"waiter", T_OBJECT, offsetof(FastConn, waiter), 0, NULL},
    {"driver", T_OBJECT, offsetof(FastConn, driver), 0, NULL},
    {"head", T_OBJECT, offsetof(FastConn, head), 0, NULL},
    {"last_data", T_OBJECT, offsetof(FastConn, last_data), 0, NULL},
    {"chunks", T_OBJECT, offsetof(FastConn, chunks), 0, NULL},
    {"special", T_OBJECT, offsetof(FastConn, special), 0, NULL},
    {"t_first", T_DOUBLE, offsetof(FastConn, t_first), 0, NULL},
    {"t_last", T_DOUBLE, offsetof(FastConn, t_last), 0, NULL},
    {"received", T_PYSSIZET, offsetof(FastConn, received), 0, NULL},
    {"status", T_INT, offsetof(FastConn, status), 0, NULL},
    {"keep_alive", T_BOOL, offsetof(FastConn, keep_alive), 0, NULL},
    {"complete", T_BOOL, offsetof(FastConn, complete), 0, NULL},
    {"head_request", T_BOOL, offsetof(FastConn, head_request), 0, NULL},
    {"closed", T_BOOL, offsetof(FastConn, closed), 0, NULL},
    {"discard", T_BOOL, offsetof(FastConn, discard), 0, NULL},
    {"max_body", T_PYSSIZET, offsetof(FastConn, max_body), 0, NULL},
    {"kept", T_PYSSIZET, offsetof(FastConn, kept), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static int
fc_traverse(PyObject *self, visitproc visit, void *arg)
{
    return traverse_members(self, fc_members, visit, arg);
}

static int
fc_clear(PyObject *self)
{
    clear_members(self, fc_members);
    return 0;
}

static void
fc_dealloc(PyObject *self)
{
    dealloc_members(self, fc_members);
}

static PyType_Slot fc_slots[] = {
    {Py_tp_doc, "Connection state read by compiled code; subclassed by assay's Connection."},
    {Py_tp_dealloc, fc_dealloc},
    {Py_tp_traverse, fc_traverse},
    {Py_tp_clear, fc_clear},
    {Py_tp_methods, fc_methods},
    {Py_tp_members, fc_members},
    {Py_tp_new, PyType_GenericNew},
    {0, NULL},
};

static PyType_Spec fc_spec = {
    .name = "assay.load.http._fastresp.FastConnection",
    .basicsize = sizeof(FastConn),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = fc_slots,
};

/* ---------------------------------------------------------------------------------------------
 * StaticLoop: the response callback of HttpClient.run_static (a wrk-style request loop on one
 * kept-alive connection). The common response -- the same status as the previous one, so the
 * same metrics series -- is recorded and the next request written here; anything else (a new
 * status, cookies, compression, redirects, a closing connection) goes to the Python method
 * `_step(conn)`, which does what this does and more.
 */

typedef struct {
    PyObject_HEAD
    PyObject *vu;             /* the VU context (its `iteration` counts up) */
    PyObject *data;           /* the request bytes */
    PyObject *worker;         /* `stopping` ends the loop */
    PyObject *flags;          /* dict with "stop", or None */
    PyObject *iters;          /* Counter series of iterations (count, sum) */
    PyObject *iter_durations; /* Trend series of iteration_duration (buf) */
    PyObject *last_series;    /* the HttpSeries of last_status, or None */
    double timeout, end_at, t_iter, t_send, t_sent;
    Py_ssize_t nbytes;
    int last_status;
    char follow;
    char finished;
} StaticLoop;

static PyTypeObject *FastConnType;
static PyObject *float_one; /* iterations' sum grows by 1.0 per iteration */
static PyObject *str_step, *str_buf, *str_frombytes, *str_append, *str_sent, *str_received, *str_count,
    *str_sum, *str_iteration, *str_stopping, *str_stop, *str_deadline, *str_transport, *str_write;

static int
add_to_attr(PyObject *obj, PyObject *name, PyObject *amount)
{
    PyObject *old = PyObject_GetAttr(obj, name);
    if (old == NULL) {
        return -1;
    }
    PyObject *new_value = PyNumber_Add(old, amount);
    Py_DECREF(old);
    if (new_value == NULL) {
        return -1;
    }
    int r = PyObject_SetAttr(obj, name, new_value);
    Py_DECREF(new_value);
    return r;
}

static int
add_int_to_attr(PyObject *obj, PyObject *name, Py_ssize_t amount)
{
    PyObject *n = PyLong_FromSsize_t(amount);
    if (n == NULL) {
        return -1;
    }
    int r = add_to_attr(obj, name, n);
    Py_DECREF(n);
    return r;
}

static int
call_on_attr(PyObject *obj, PyObject *attr, PyObject *method, PyObject *arg)
{
    PyObject *target = PyObject_GetAttr(obj, attr);
    if (target == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethodOneArg(target, method, arg);
    Py_DECREF(target);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static int
attr_is_true(PyObject *obj, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL) {
        return -1;
    }
    int t = PyObject_IsTrue(v);
    Py_DECREF(v);
    return t;
}

static int
is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static PyObject *
sl_step_in_python(StaticLoop *self, PyObject *conn)
{
    return PyObject_CallMethodOneArg((PyObject *)self, str_step, conn);
}

static PyObject *
sl_call(StaticLoop *self, PyObject *args, PyObject *kwargs)
{
    PyObject *arg;
    if (kwargs != NULL || !PyArg_UnpackTuple(args, "StaticLoop", 1, 1, &arg)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "StaticLoop takes one connection");
        }
        return NULL;
    }
    if (!PyObject_TypeCheck(arg, FastConnType)) {
        return sl_step_in_python(self, arg);
    }
    FastConn *conn = (FastConn *)arg;
    int status = conn->status;
    if ((conn->special != NULL && conn->special != Py_None) || !conn->keep_alive || conn->closed ||
        (self->follow && is_redirect(status))) {
        Py_RETURN_FALSE; /* the coroutine finishes this response the general way */
    }
    if (status != self->last_status || self->last_series == NULL || self->last_series == Py_None) {
        return sl_step_in_python(self, arg);
    }
    double t_done = conn->t_last;
    double t_first = conn->t_first != 0.0 ? conn->t_first : t_done;
    double row[8] = {0.0, 0.0, 0.0,
                     (self->t_sent - self->t_send) * 1000.0,
                     (t_first - self->t_sent) * 1000.0,
                     (t_done - t_first) * 1000.0,
                     (t_done - self->t_send) * 1000.0,
                     -1.0};
    PyObject *series = self->last_series;
    Py_INCREF(series);
    PyObject *packed = PyBytes_FromStringAndSize((const char *)row, sizeof(row));
    int failed = packed == NULL || call_on_attr(series, str_buf, str_frombytes, packed) < 0 ||
                 add_int_to_attr(series, str_sent, self->nbytes) < 0 ||
                 add_int_to_attr(series, str_received, conn->received) < 0;
    Py_XDECREF(packed);
    Py_DECREF(series);
    if (failed) {
        return NULL;
    }
    PyObject *duration = PyFloat_FromDouble((t_done - self->t_iter) * 1000.0);
    if (duration == NULL) {
        return NULL;
    }
    failed = add_int_to_attr(self->iters, str_count, 1) < 0 || call_on_attr(self->iter_durations, str_buf, str_append, duration) < 0 ||
             add_int_to_attr(self->vu, str_iteration, 1) < 0;
    Py_DECREF(duration);
    if (failed) {
        return NULL;
    }
    if (add_to_attr(self->iters, str_sum, float_one) < 0) {
        return NULL;
    }
    int stop = t_done >= self->end_at;
    if (!stop) {
        stop = attr_is_true(self->worker, str_stopping);
        if (stop < 0) {
            return NULL;
        }
    }
    if (!stop && self->flags != NULL && self->flags != Py_None) {
        PyObject *flag = PyObject_GetItem(self->flags, str_stop);
        if (flag == NULL) {
            return NULL;
        }
        stop = PyObject_IsTrue(flag);
        Py_DECREF(flag);
        if (stop < 0) {
            return NULL;
        }
    }
    if (stop) {
        self->finished = 1;
        Py_RETURN_FALSE;
    }
    /* the next iteration: Connection.restart */
    self->t_iter = t_done;
    PyObject *chunks = PyList_New(0);
    if (chunks == NULL) {
        return NULL;
    }
    Py_XSETREF(conn->chunks, chunks);
    set_obj(&conn->head, Py_None);
    set_obj(&conn->special, Py_None);
    conn->status = 0;
    conn->t_first = 0.0;
    conn->received = 0;
    conn->kept = 0;
    conn->complete = 0;
    double t_send = self->t_send = perf_now();
    PyObject *deadline = PyFloat_FromDouble(t_send + self->timeout);
    if (deadline == NULL) {
        return NULL;
    }
    failed = PyObject_SetAttr(arg, str_deadline, deadline) < 0;
    Py_DECREF(deadline);
    if (failed || call_on_attr(arg, str_transport, str_write, self->data) < 0) {
        return NULL;
    }
    self->t_sent = perf_now();
    Py_RETURN_TRUE;
}

static PyMemberDef sl_members[] = {
    {"vu", T_OBJECT, offsetof(StaticLoop, vu), 0, NULL},
    {"data", T_OBJECT, offsetof(StaticLoop, data), 0, NULL},
    {"worker", T_OBJECT, offsetof(StaticLoop, worker), 0, NULL},
    {"flags", T_OBJECT, offsetof(StaticLoop, flags), 0, NULL},
    {"iters", T_OBJECT, offsetof(StaticLoop, iters), 0, NULL},
    {"iter_durations", T_OBJECT, offsetof(StaticLoop, iter_durations), 0, NULL},
    {"last_series", T_OBJECT, offsetof(StaticLoop, last_series), 0, NULL},
    {"timeout", T_DOUBLE, offsetof(StaticLoop, timeout), 0, NULL},
    {"end_at", T_DOUBLE, offsetof(StaticLoop, end_at), 0, NULL},
    {"t_iter", T_DOUBLE, offsetof(StaticLoop, t_iter), 0, NULL},
    {"t_send", T_DOUBLE, offsetof(StaticLoop, t_send), 0, NULL},
    {"t_sent", T_DOUBLE, offsetof(StaticLoop, t_sent), 0, NULL},
    {"nbytes", T_PYSSIZET, offsetof(StaticLoop, nbytes), 0, NULL},
    {"last_status", T_INT, offsetof(StaticLoop, last_status), 0, NULL},
    {"follow", T_BOOL, offsetof(StaticLoop, follow), 0, NULL},
    {"finished", T_BOOL, offsetof(StaticLoop, finished), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static int
sl_traverse(PyObject *self, visitproc visit, void *arg)
{
    return traverse_members(self, sl_members, visit, arg);
}

static int
sl_clear(PyObject *self)
{
    clear_members(self, sl_members);
    return 0;
}

static void
sl_dealloc(PyObject *self)
{
    dealloc_members(self, sl_members);
}

static PyType_Slot sl_slots[] = {
    {Py_tp_doc, "The fields of a run_static loop read by compiled code; subclassed by assay's _StaticRun."},
    {Py_tp_dealloc, sl_dealloc},
    {Py_tp_traverse, sl_traverse},
    {Py_tp_clear, sl_clear},
    {Py_tp_members, sl_members},
    {Py_tp_call, sl_call},
    {Py_tp_new, PyType_GenericNew},
    {0, NULL},
};

static PyType_Spec sl_spec = {
    .name = "assay.load.http._fastresp.StaticLoop",
    .basicsize = sizeof(StaticLoop),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = sl_slots,
};

static PyMethodDef module_methods[] = {
    {"scan", (PyCFunction)fc_scan, METH_O,
     "scan(data) -> (status, head_len, content_length) when data starts with a plain response, else None."},
    {"perf_now", (PyCFunction)fc_perf_now, METH_NOARGS, "The clock data_received reads (time.perf_counter)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "assay.load.http._fastresp",
    .m_doc = "Compiled response handling for assay's load engine (plain whole responses only).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__fastresp(void)
{
    str_feed = PyUnicode_InternFromString("_feed");
    str_done = PyUnicode_InternFromString("done");
    str_set_result = PyUnicode_InternFromString("set_result");
    if (str_feed == NULL || str_done == NULL || str_set_result == NULL) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "MAX_HEAD", MAX_HEAD) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    const char *names[] = {"_step", "buf", "frombytes", "append", "sent", "received", "count", "sum",
                           "iteration", "stopping", "stop", "deadline", "transport", "write"};
    PyObject **slots[] = {&str_step, &str_buf, &str_frombytes, &str_append, &str_sent, &str_received, &str_count,
                          &str_sum, &str_iteration, &str_stopping, &str_stop, &str_deadline, &str_transport, &str_write};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *slots[i] = PyUnicode_InternFromString(names[i]);
        if (*slots[i] == NULL) {
            Py_DECREF(m);
            return NULL;
        }
    }
    float_one = PyFloat_FromDouble(1.0);
    PyObject *tp = float_one == NULL ? NULL : PyType_FromSpec(&fc_spec);
    if (tp == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    FastConnType = (PyTypeObject *)tp;
    Py_INCREF(tp); /* the module-level reference the static loop checks against */
    if (PyModule_AddObject(m, "FastConnection", tp) < 0) {
        Py_DECREF(tp);
        Py_DECREF(m);
        return NULL;
    }
    PyObject *sl = PyType_FromSpec(&sl_spec);
    if (sl == NULL || PyModule_AddObject(m, "StaticLoop", sl) < 0) {
        Py_XDECREF(sl);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
