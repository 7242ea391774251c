/*
 * softp11 — a PKCS#11 face of the software SKF key (libsoftskf.so), for tests: the calls SealBridge's PKCS#11
 * driver makes (slots, token info, login, find objects, attributes, sign) with two vendor SM2 mechanisms, so
 * the driver's SM2 path runs to a signature that verifies. Written over the SKF API, not the store, so both
 * faces always agree. One slot per device; the token's key is the first ECC container with a certificate.
 *
 * Mechanisms (agent/tokens/sm2_profiles.json, the Sansec family):
 *   0x80008100 CKM_SM3_SM2: the token computes Z and e = SM3(Z‖M); the parameter is the signer ID (or none:
 *              the default ID). Output raw r‖s.
 *   0x80008105 raw SM2 on a host-computed 32-byte e. Output raw r‖s.
 * The private key is CKK 0x80000004 and visible only after login, like on a real key.
 */
#define _GNU_SOURCE
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skf.h"

#define EXPORT __attribute__((visibility("default")))
#define CKK_VENDOR_SM2 0x80000004UL
#define CKM_VENDOR_SM3_SM2 0x80008100UL
#define CKM_VENDOR_SM2_RAW 0x80008105UL
#define MAX_SLOTS 16
#define MAX_SESSIONS 64
#define OBJ_CERT 1
#define OBJ_KEY 2

static const BYTE DEFAULT_ID[16] = "1234567812345678";

struct slot {
    char name[65];
};

struct session {
    int used;
    CK_SLOT_ID slot;
    DEVHANDLE dev;
    HAPPLICATION app;
    HCONTAINER con;
    char con_name[65];
    int logged_in;
    CK_OBJECT_HANDLE found[2];
    int found_count, found_pos, finding;
    CK_MECHANISM_TYPE mech;
    BYTE id[64];
    ULONG id_len;
    int signing;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static struct slot slots[MAX_SLOTS];
static int slot_count;
static struct session sessions[MAX_SESSIONS + 1];

static CK_RV rv_of(ULONG sar) {
    switch (sar) {
    case SAR_OK: return CKR_OK;
    case SAR_PIN_INCORRECT: return CKR_PIN_INCORRECT;
    case SAR_PIN_LOCKED: return CKR_PIN_LOCKED;
    case SAR_PIN_LEN_RANGE: return CKR_PIN_LEN_RANGE;
    case SAR_DEVICE_REMOVED: return CKR_DEVICE_REMOVED;
    case SAR_USER_NOT_LOGGED_IN: return CKR_USER_NOT_LOGGED_IN;
    case SAR_INDATALENERR: return CKR_DATA_LEN_RANGE;
    default: return CKR_DEVICE_ERROR;
    }
}

static void pad(CK_UTF8CHAR *dst, size_t n, const char *src) {
    size_t len = strlen(src);
    memset(dst, ' ', n);
    memcpy(dst, src, len < n ? len : n);
}

/* Re-reads the device list; slot ids are 1-based positions in it. */
static void refresh_slots(void) {
    char list[4096];
    ULONG size = sizeof list;
    const char *p;
    slot_count = 0;
    if (SKF_EnumDev(TRUE, list, &size) != SAR_OK) return;
    for (p = list; *p && slot_count < MAX_SLOTS; p += strlen(p) + 1) {
        snprintf(slots[slot_count].name, sizeof slots[slot_count].name, "%s", p);
        slot_count++;
    }
}

static const char *slot_name(CK_SLOT_ID id) { return id >= 1 && id <= (CK_SLOT_ID)slot_count ? slots[id - 1].name : NULL; }

/* Opens the device's first application and its first ECC container that has a signing certificate. */
static CK_RV open_key(const char *dev_name, DEVHANDLE *dev, HAPPLICATION *app, HCONTAINER *con, char *con_name) {
    char apps[1024], cons[4096];
    ULONG size = sizeof apps, rv;
    const char *c;
    *dev = *app = *con = NULL;
    if ((rv = SKF_ConnectDev((LPSTR)dev_name, dev)) != SAR_OK) return rv == SAR_DEVICE_REMOVED ? CKR_TOKEN_NOT_PRESENT : rv_of(rv);
    if ((rv = SKF_EnumApplication(*dev, apps, &size)) != SAR_OK || !apps[0] || (rv = SKF_OpenApplication(*dev, apps, app)) != SAR_OK)
        goto fail;
    size = sizeof cons;
    if ((rv = SKF_EnumContainer(*app, cons, &size)) != SAR_OK) goto fail;
    for (c = cons; *c; c += strlen(c) + 1) {
        HCONTAINER h;
        ULONG type = 0, cert_len = 0;
        if (SKF_OpenContainer(*app, (LPSTR)c, &h) != SAR_OK) continue;
        if (SKF_GetContainerType(h, &type) == SAR_OK && type == CONTAINER_ECC &&
            SKF_ExportCertificate(h, TRUE, NULL, &cert_len) == SAR_OK && cert_len) {
            *con = h;
            snprintf(con_name, 65, "%s", c);
            return CKR_OK;
        }
        SKF_CloseContainer(h);
    }
    return CKR_OK; /* a token without a key: no objects */
fail:
    if (*app) SKF_CloseApplication(*app);
    SKF_DisConnectDev(*dev);
    *dev = *app = NULL;
    return rv == SAR_DEVICE_REMOVED ? CKR_TOKEN_NOT_PRESENT : rv_of(rv);
}

static void close_key(DEVHANDLE dev, HAPPLICATION app, HCONTAINER con) {
    if (con) SKF_CloseContainer(con);
    if (app) SKF_CloseApplication(app);
    if (dev) SKF_DisConnectDev(dev);
}

static struct session *get_session(CK_SESSION_HANDLE h) {
    return (initialized && h >= 1 && h <= MAX_SESSIONS && sessions[h].used) ? &sessions[h] : NULL;
}

/* ------------------------------------------------------------------------------------------ general */

static CK_RV p_initialize(CK_VOID_PTR args) {
    (void)args;
    pthread_mutex_lock(&lock);
    if (initialized) {
        pthread_mutex_unlock(&lock);
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    }
    initialized = 1;
    refresh_slots();
    pthread_mutex_unlock(&lock);
    return CKR_OK;
}

static CK_RV p_finalize(CK_VOID_PTR reserved) {
    int i;
    (void)reserved;
    pthread_mutex_lock(&lock);
    if (!initialized) {
        pthread_mutex_unlock(&lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    for (i = 1; i <= MAX_SESSIONS; i++)
        if (sessions[i].used) close_key(sessions[i].dev, sessions[i].app, sessions[i].con);
    memset(sessions, 0, sizeof sessions);
    initialized = 0;
    pthread_mutex_unlock(&lock);
    return CKR_OK;
}

static CK_RV p_get_info(CK_INFO_PTR info) {
    if (!info) return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof *info);
    info->cryptokiVersion.major = 2;
    info->cryptokiVersion.minor = 40;
    pad(info->manufacturerID, sizeof info->manufacturerID, "SealBridge");
    pad(info->libraryDescription, sizeof info->libraryDescription, "SealBridge soft SKF PKCS#11 face");
    info->libraryVersion.major = 1;
    return CKR_OK;
}

static CK_RV p_get_slot_list(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
    CK_RV rv = CKR_OK;
    int i;
    (void)present;
    if (!count) return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&lock);
    if (!initialized) rv = CKR_CRYPTOKI_NOT_INITIALIZED;
    else {
        if (!list) refresh_slots();
        if (list && *count < (CK_ULONG)slot_count) rv = CKR_BUFFER_TOO_SMALL;
        else if (list)
            for (i = 0; i < slot_count; i++) list[i] = (CK_SLOT_ID)(i + 1);
        *count = (CK_ULONG)slot_count;
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

static CK_RV p_get_slot_info(CK_SLOT_ID id, CK_SLOT_INFO_PTR info) {
    const char *name;
    ULONG state = DEV_ABSENT_STATE;
    if (!info) return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&lock);
    name = initialized ? slot_name(id) : NULL;
    if (name) {
        memset(info, 0, sizeof *info);
        pad(info->slotDescription, sizeof info->slotDescription, name);
        pad(info->manufacturerID, sizeof info->manufacturerID, "SealBridge");
        SKF_GetDevState((LPSTR)name, &state);
        info->flags = CKF_REMOVABLE_DEVICE | (state == DEV_PRESENT_STATE ? CKF_TOKEN_PRESENT : 0);
    }
    pthread_mutex_unlock(&lock);
    return name ? CKR_OK : (initialized ? CKR_SLOT_ID_INVALID : CKR_CRYPTOKI_NOT_INITIALIZED);
}

static CK_RV p_get_token_info(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info) {
    const char *name;
    DEVHANDLE dev;
    HAPPLICATION app;
    HCONTAINER con;
    char con_name[65];
    DEVINFO di;
    ULONG max = 0, left = 0;
    BOOL def = 0;
    CK_RV rv;
    if (!info) return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&lock);
    name = initialized ? slot_name(id) : NULL;
    if (!name) {
        pthread_mutex_unlock(&lock);
        return initialized ? CKR_SLOT_ID_INVALID : CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    rv = open_key(name, &dev, &app, &con, con_name);
    if (rv == CKR_OK) {
        memset(info, 0, sizeof *info);
        memset(&di, 0, sizeof di);
        SKF_GetDevInfo(dev, &di);
        pad(info->label, sizeof info->label, name);
        pad(info->manufacturerID, sizeof info->manufacturerID, "SealBridge");
        pad(info->model, sizeof info->model, "SoftSKF-P11");
        di.SerialNumber[sizeof di.SerialNumber - 1] = 0;
        pad(info->serialNumber, sizeof info->serialNumber, di.SerialNumber);
        info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED;
        if (SKF_GetPINInfo(app, USER_TYPE, &max, &left, &def) == SAR_OK) {
            if (left == 0) info->flags |= CKF_USER_PIN_LOCKED;
            else if (left == 1) info->flags |= CKF_USER_PIN_FINAL_TRY;
            if (left < max) info->flags |= CKF_USER_PIN_COUNT_LOW;
        }
        info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
        info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
        info->ulMaxPinLen = 64;
        info->ulMinPinLen = 6;
        info->ulTotalPublicMemory = info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
        info->ulTotalPrivateMemory = info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
        info->hardwareVersion.major = info->firmwareVersion.major = 1;
        close_key(dev, app, con);
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

static const CK_MECHANISM_TYPE MECHS[] = {CKM_VENDOR_SM3_SM2, CKM_VENDOR_SM2_RAW};

static CK_RV p_get_mechanism_list(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
    CK_ULONG n = sizeof MECHS / sizeof MECHS[0];
    if (!count) return CKR_ARGUMENTS_BAD;
    if (!initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (!slot_name(id)) return CKR_SLOT_ID_INVALID;
    if (list && *count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (list) memcpy(list, MECHS, sizeof MECHS);
    *count = n;
    return CKR_OK;
}

static CK_RV p_get_mechanism_info(CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info) {
    if (!info) return CKR_ARGUMENTS_BAD;
    if (!slot_name(id)) return CKR_SLOT_ID_INVALID;
    if (type != CKM_VENDOR_SM3_SM2 && type != CKM_VENDOR_SM2_RAW) return CKR_MECHANISM_INVALID;
    info->ulMinKeySize = info->ulMaxKeySize = 256;
    info->flags = CKF_SIGN | CKF_HW;
    return CKR_OK;
}

/* ------------------------------------------------------------------------------------------ sessions */

static CK_RV p_open_session(CK_SLOT_ID id, CK_FLAGS flags, CK_VOID_PTR app_data, CK_NOTIFY notify,
                            CK_SESSION_HANDLE_PTR out) {
    const char *name;
    int i;
    CK_RV rv = CKR_SESSION_COUNT;
    (void)app_data;
    (void)notify;
    if (!out) return CKR_ARGUMENTS_BAD;
    if (!(flags & CKF_SERIAL_SESSION)) return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    pthread_mutex_lock(&lock);
    name = initialized ? slot_name(id) : NULL;
    if (!name) rv = initialized ? CKR_SLOT_ID_INVALID : CKR_CRYPTOKI_NOT_INITIALIZED;
    for (i = 1; name && i <= MAX_SESSIONS; i++) {
        struct session *s = &sessions[i];
        if (s->used) continue;
        memset(s, 0, sizeof *s);
        rv = open_key(name, &s->dev, &s->app, &s->con, s->con_name);
        if (rv == CKR_OK) {
            s->used = 1;
            s->slot = id;
            *out = (CK_SESSION_HANDLE)i;
        }
        break;
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

static void end_session(struct session *s) {
    close_key(s->dev, s->app, s->con);
    memset(s, 0, sizeof *s);
}

static CK_RV p_close_session(CK_SESSION_HANDLE h) {
    struct session *s;
    pthread_mutex_lock(&lock);
    s = get_session(h);
    if (s) end_session(s);
    pthread_mutex_unlock(&lock);
    return s ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

static CK_RV p_close_all_sessions(CK_SLOT_ID id) {
    int i;
    pthread_mutex_lock(&lock);
    for (i = 1; i <= MAX_SESSIONS; i++)
        if (sessions[i].used && sessions[i].slot == id) end_session(&sessions[i]);
    pthread_mutex_unlock(&lock);
    return CKR_OK;
}

static CK_RV p_get_session_info(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info) {
    struct session *s;
    if (!info) return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&lock);
    s = get_session(h);
    if (s) {
        memset(info, 0, sizeof *info);
        info->slotID = s->slot;
        info->state = s->logged_in ? CKS_RO_USER_FUNCTIONS : CKS_RO_PUBLIC_SESSION;
        info->flags = CKF_SERIAL_SESSION;
    }
    pthread_mutex_unlock(&lock);
    return s ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

static CK_RV p_login(CK_SESSION_HANDLE h, CK_USER_TYPE type, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
    struct session *s;
    char text[65];
    ULONG retry = 0;
    CK_RV rv;
    if (type != CKU_USER) return CKR_USER_TYPE_INVALID;
    if (!pin || len == 0 || len > 64) return CKR_PIN_LEN_RANGE;
    memcpy(text, pin, len);
    text[len] = 0;
    pthread_mutex_lock(&lock);
    s = get_session(h);
    if (!s) rv = CKR_SESSION_HANDLE_INVALID;
    else if (s->logged_in) rv = CKR_USER_ALREADY_LOGGED_IN;
    else {
        rv = rv_of(SKF_VerifyPIN(s->app, USER_TYPE, text, &retry));
        s->logged_in = rv == CKR_OK;
    }
    pthread_mutex_unlock(&lock);
    memset(text, 0, sizeof text);
    return rv;
}

static CK_RV p_logout(CK_SESSION_HANDLE h) {
    struct session *s;
    pthread_mutex_lock(&lock);
    s = get_session(h);
    if (s) {
        SKF_ClearSecureState(s->app);
        s->logged_in = 0;
    }
    pthread_mutex_unlock(&lock);
    return s ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

/* ------------------------------------------------------------------------------------------ objects */

static CK_RV cert_der(struct session *s, BYTE **out, ULONG *len) {
    ULONG rv;
    *len = 0;
    if ((rv = SKF_ExportCertificate(s->con, TRUE, NULL, len)) != SAR_OK) return rv_of(rv);
    if (!(*out = malloc(*len ? *len : 1))) return CKR_HOST_MEMORY;
    if ((rv = SKF_ExportCertificate(s->con, TRUE, *out, len)) != SAR_OK) {
        free(*out);
        return rv_of(rv);
    }
    return CKR_OK;
}

/* Copies one attribute value out following C_GetAttributeValue's rules. */
static CK_RV put_attr(CK_ATTRIBUTE_PTR a, const void *value, CK_ULONG len) {
    if (!a->pValue) {
        a->ulValueLen = len;
        return CKR_OK;
    }
    if (a->ulValueLen < len) {
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(a->pValue, value, len);
    a->ulValueLen = len;
    return CKR_OK;
}

/* The value of `type` on object `obj`; 0 = unknown attribute. The certificate value is fetched by the caller. */
static int attr_value(struct session *s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, CK_ULONG *num, CK_BBOOL *flag,
                      const void **bytes, CK_ULONG *len) {
    static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    *bytes = NULL;
    switch (type) {
    case CKA_CLASS: *num = obj == OBJ_CERT ? CKO_CERTIFICATE : CKO_PRIVATE_KEY; *bytes = num; *len = sizeof *num; return 1;
    case CKA_TOKEN: *bytes = &yes; *len = 1; return 1;
    case CKA_PRIVATE: *bytes = obj == OBJ_KEY ? &yes : &no; *len = 1; return 1;
    case CKA_ID: *bytes = s->con_name; *len = strlen(s->con_name); return 1;
    case CKA_LABEL: *bytes = s->con_name; *len = strlen(s->con_name); return 1;
    default: break;
    }
    (void)flag;
    if (obj == OBJ_CERT && type == CKA_CERTIFICATE_TYPE) { *num = CKC_X_509; *bytes = num; *len = sizeof *num; return 1; }
    if (obj == OBJ_KEY && type == CKA_KEY_TYPE) { *num = CKK_VENDOR_SM2; *bytes = num; *len = sizeof *num; return 1; }
    if (obj == OBJ_KEY && (type == CKA_SIGN)) { *bytes = &yes; *len = 1; return 1; }
    if (obj == OBJ_KEY && (type == CKA_SENSITIVE || type == CKA_ALWAYS_SENSITIVE || type == CKA_NEVER_EXTRACTABLE)) { *bytes = &yes; *len = 1; return 1; }
    if (obj == OBJ_KEY && (type == CKA_EXTRACTABLE || type == CKA_DECRYPT || type == CKA_UNWRAP || type == CKA_DERIVE)) { *bytes = &no; *len = 1; return 1; }
    if (obj == OBJ_CERT && type == CKA_VALUE) return 2;
    return 0;
}

static int visible(struct session *s, CK_OBJECT_HANDLE obj) {
    return s->con && (obj == OBJ_CERT || (obj == OBJ_KEY && s->logged_in));
}

static int matches(struct session *s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n) {
    CK_ULONG i, num;
    CK_BBOOL flag;
    const void *bytes;
    CK_ULONG len;
    for (i = 0; i < n; i++) {
        int kind = attr_value(s, obj, tmpl[i].type, &num, &flag, &bytes, &len);
        if (kind == 2) {
            BYTE *der;
            ULONG der_len;
            int same;
            if (cert_der(s, &der, &der_len) != CKR_OK) return 0;
            same = der_len == tmpl[i].ulValueLen && memcmp(der, tmpl[i].pValue, der_len) == 0;
            free(der);
            if (!same) return 0;
            continue;
        }
        if (kind == 0 || len != tmpl[i].ulValueLen || memcmp(bytes, tmpl[i].pValue, len) != 0) return 0;
    }
    return 1;
}

static CK_RV p_find_init(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n) {
    struct session *s;
    CK_RV rv = CKR_OK;
    CK_OBJECT_HANDLE obj;
    pthread_mutex_lock(&lock);
    s = get_session(h);
    if (!s) rv = CKR_SESSION_HANDLE_INVALID;
    else if (s->finding) rv = CKR_OPERATION_ACTIVE;
    else {
        s->found_count = s->found_pos = 0;
        for (obj = OBJ_CERT; obj <= OBJ_KEY; obj++)
            if (visible(s, obj) && matches(s, obj, tmpl, n)) s->found[s->found_count++] = obj;
        s->finding = 1;
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

static CK_RV p_find(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR count) {
    struct session *s;
    CK_RV rv = CKR_OK;
    if (!out || !count) return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&lock);
    s = get_session(h);
    if (!s) rv = CKR_SESSION_HANDLE_INVALID;
    else if (!s->finding) rv = CKR_OPERATION_NOT_INITIALIZED;
    else {
        *count = 0;
        while (*count < max && s->found_pos < s->found_count) out[(*count)++] = s->found[s->found_pos++];
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

static CK_RV p_find_final(CK_SESSION_HANDLE h) {
    struct session *s;
    pthread_mutex_lock(&lock);
    s = get_session(h);
    if (s) s->finding = 0;
    pthread_mutex_unlock(&lock);
    return s ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

static CK_RV p_get_attribute_value(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n) {
    struct session *s;
    CK_RV rv = CKR_OK;
    CK_ULONG i;
    pthread_mutex_lock(&lock);
    s = get_session(h);
    if (!s) rv = CKR_SESSION_HANDLE_INVALID;
    else if (!visible(s, obj)) rv = CKR_OBJECT_HANDLE_INVALID;
    for (i = 0; rv == CKR_OK && i < n; i++) {
        CK_ULONG num, len;
        CK_BBOOL flag;
        const void *bytes;
        int kind = attr_value(s, obj, tmpl[i].type, &num, &flag, &bytes, &len);
        CK_RV one;
        if (kind == 2) {
            BYTE *der;
            ULONG der_len;
            one = cert_der(s, &der, &der_len);
            if (one == CKR_OK) {
                one = put_attr(&tmpl[i], der, der_len);
                free(der);
            } else {
                rv = one;
                break;
            }
        } else if (kind == 1) {
            one = put_attr(&tmpl[i], bytes, len);
        } else {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            one = CKR_ATTRIBUTE_TYPE_INVALID;
        }
        /* keep going: every attribute gets its answer, the call returns the last problem */
        if (one != CKR_OK) {
            CK_RV saved = one;
            for (i = i + 1; i < n; i++) {
                kind = attr_value(s, obj, tmpl[i].type, &num, &flag, &bytes, &len);
                if (kind == 1) one = put_attr(&tmpl[i], bytes, len);
                else if (kind == 0) tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
                else {
                    BYTE *der;
                    ULONG der_len;
                    if (cert_der(s, &der, &der_len) == CKR_OK) {
                        put_attr(&tmpl[i], der, der_len);
                        free(der);
                    }
                }
            }
            rv = saved;
        }
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

/* ------------------------------------------------------------------------------------------ signing */

static CK_RV p_sign_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key) {
    struct session *s;
    CK_RV rv = CKR_OK;
    if (!mech) return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&lock);
    s = get_session(h);
    if (!s) rv = CKR_SESSION_HANDLE_INVALID;
    else if (!s->logged_in) rv = CKR_USER_NOT_LOGGED_IN;
    else if (key != OBJ_KEY || !s->con) rv = CKR_KEY_HANDLE_INVALID;
    else if (mech->mechanism == CKM_VENDOR_SM3_SM2) {
        if (mech->pParameter == NULL || mech->ulParameterLen == 0) {
            memcpy(s->id, DEFAULT_ID, 16);
            s->id_len = 16;
        } else if (mech->ulParameterLen <= sizeof s->id) {
            memcpy(s->id, mech->pParameter, mech->ulParameterLen);
            s->id_len = (ULONG)mech->ulParameterLen;
        } else {
            rv = CKR_MECHANISM_PARAM_INVALID;
        }
    } else if (mech->mechanism == CKM_VENDOR_SM2_RAW) {
        if (mech->ulParameterLen) rv = CKR_MECHANISM_PARAM_INVALID;
    } else {
        rv = CKR_MECHANISM_INVALID;
    }
    if (rv == CKR_OK) {
        s->mech = mech->mechanism;
        s->signing = 1;
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

static CK_RV sign_now(struct session *s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out) {
    BYTE e[32];
    ECCSIGNATUREBLOB sig;
    ULONG rv;
    if (s->mech == CKM_VENDOR_SM3_SM2) {
        ECCPUBLICKEYBLOB pub;
        ULONG pub_len = sizeof pub, e_len = sizeof e;
        HANDLE hash;
        if ((rv = SKF_ExportPublicKey(s->con, TRUE, (BYTE *)&pub, &pub_len)) != SAR_OK) return rv_of(rv);
        if ((rv = SKF_DigestInit(s->dev, SGD_SM3, &pub, s->id, s->id_len, &hash)) != SAR_OK) return rv_of(rv);
        rv = SKF_Digest(hash, data, (ULONG)len, e, &e_len);
        SKF_CloseHandle(hash);
        if (rv != SAR_OK) return rv_of(rv);
    } else {
        if (len != 32) return CKR_DATA_LEN_RANGE;
        memcpy(e, data, 32);
    }
    if ((rv = SKF_ECCSignData(s->con, e, 32, &sig)) != SAR_OK) return rv_of(rv);
    memcpy(out, sig.r + 32, 32);
    memcpy(out + 32, sig.s + 32, 32);
    return CKR_OK;
}

static CK_RV p_sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
    struct session *s;
    CK_RV rv;
    if (!sig_len || (!data && len)) return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&lock);
    s = get_session(h);
    if (!s) rv = CKR_SESSION_HANDLE_INVALID;
    else if (!s->signing) rv = CKR_OPERATION_NOT_INITIALIZED;
    else if (!sig) {
        *sig_len = 64;
        rv = CKR_OK;
    } else if (*sig_len < 64) {
        *sig_len = 64;
        rv = CKR_BUFFER_TOO_SMALL;
    } else {
        rv = sign_now(s, data, len, sig);
        if (rv == CKR_OK) *sig_len = 64;
        s->signing = 0;
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

/* ------------------------------------------------------------------------------------------ the table */

/* Everything this face does not do answers CKR_FUNCTION_NOT_SUPPORTED. One stub serves every such entry:
 * the SysV x86-64 and AArch64 calling conventions let a callee ignore arguments it does not declare. */
static CK_RV not_supported(void) { return CKR_FUNCTION_NOT_SUPPORTED; }
#define NS(type) ((type)(void (*)(void))not_supported)

static CK_RV p_get_function_list(CK_FUNCTION_LIST_PTR_PTR out);

static CK_FUNCTION_LIST functions = {
    .version = {2, 40},
    .C_Initialize = p_initialize,
    .C_Finalize = p_finalize,
    .C_GetInfo = p_get_info,
    .C_GetFunctionList = p_get_function_list,
    .C_GetSlotList = p_get_slot_list,
    .C_GetSlotInfo = p_get_slot_info,
    .C_GetTokenInfo = p_get_token_info,
    .C_GetMechanismList = p_get_mechanism_list,
    .C_GetMechanismInfo = p_get_mechanism_info,
    .C_InitToken = NS(CK_C_InitToken),
    .C_InitPIN = NS(CK_C_InitPIN),
    .C_SetPIN = NS(CK_C_SetPIN),
    .C_OpenSession = p_open_session,
    .C_CloseSession = p_close_session,
    .C_CloseAllSessions = p_close_all_sessions,
    .C_GetSessionInfo = p_get_session_info,
    .C_GetOperationState = NS(CK_C_GetOperationState),
    .C_SetOperationState = NS(CK_C_SetOperationState),
    .C_Login = p_login,
    .C_Logout = p_logout,
    .C_CreateObject = NS(CK_C_CreateObject),
    .C_CopyObject = NS(CK_C_CopyObject),
    .C_DestroyObject = NS(CK_C_DestroyObject),
    .C_GetObjectSize = NS(CK_C_GetObjectSize),
    .C_GetAttributeValue = p_get_attribute_value,
    .C_SetAttributeValue = NS(CK_C_SetAttributeValue),
    .C_FindObjectsInit = p_find_init,
    .C_FindObjects = p_find,
    .C_FindObjectsFinal = p_find_final,
    .C_EncryptInit = NS(CK_C_EncryptInit),
    .C_Encrypt = NS(CK_C_Encrypt),
    .C_EncryptUpdate = NS(CK_C_EncryptUpdate),
    .C_EncryptFinal = NS(CK_C_EncryptFinal),
    .C_DecryptInit = NS(CK_C_DecryptInit),
    .C_Decrypt = NS(CK_C_Decrypt),
    .C_DecryptUpdate = NS(CK_C_DecryptUpdate),
    .C_DecryptFinal = NS(CK_C_DecryptFinal),
    .C_DigestInit = NS(CK_C_DigestInit),
    .C_Digest = NS(CK_C_Digest),
    .C_DigestUpdate = NS(CK_C_DigestUpdate),
    .C_DigestKey = NS(CK_C_DigestKey),
    .C_DigestFinal = NS(CK_C_DigestFinal),
    .C_SignInit = p_sign_init,
    .C_Sign = p_sign,
    .C_SignUpdate = NS(CK_C_SignUpdate),
    .C_SignFinal = NS(CK_C_SignFinal),
    .C_SignRecoverInit = NS(CK_C_SignRecoverInit),
    .C_SignRecover = NS(CK_C_SignRecover),
    .C_VerifyInit = NS(CK_C_VerifyInit),
    .C_Verify = NS(CK_C_Verify),
    .C_VerifyUpdate = NS(CK_C_VerifyUpdate),
    .C_VerifyFinal = NS(CK_C_VerifyFinal),
    .C_VerifyRecoverInit = NS(CK_C_VerifyRecoverInit),
    .C_VerifyRecover = NS(CK_C_VerifyRecover),
    .C_DigestEncryptUpdate = NS(CK_C_DigestEncryptUpdate),
    .C_DecryptDigestUpdate = NS(CK_C_DecryptDigestUpdate),
    .C_SignEncryptUpdate = NS(CK_C_SignEncryptUpdate),
    .C_DecryptVerifyUpdate = NS(CK_C_DecryptVerifyUpdate),
    .C_GenerateKey = NS(CK_C_GenerateKey),
    .C_GenerateKeyPair = NS(CK_C_GenerateKeyPair),
    .C_WrapKey = NS(CK_C_WrapKey),
    .C_UnwrapKey = NS(CK_C_UnwrapKey),
    .C_DeriveKey = NS(CK_C_DeriveKey),
    .C_SeedRandom = NS(CK_C_SeedRandom),
    .C_GenerateRandom = NS(CK_C_GenerateRandom),
    .C_GetFunctionStatus = NS(CK_C_GetFunctionStatus),
    .C_CancelFunction = NS(CK_C_CancelFunction),
    .C_WaitForSlotEvent = NS(CK_C_WaitForSlotEvent),
};

static CK_RV p_get_function_list(CK_FUNCTION_LIST_PTR_PTR out) {
    if (!out) return CKR_ARGUMENTS_BAD;
    *out = &functions;
    return CKR_OK;
}

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) { return p_get_function_list(out); }
