/*
 * softskf — a software USB key with the GM/T 0016 (SKF) interface, over OpenSSL 3 libcrypto (SM2, SM3).
 * For tests and the demo: it signs for real, keeps its PIN retry counter on disk and behaves like a key that
 * can be pulled out. Nothing here protects the private key; never use it for real seals.
 *
 * Device store ($SOFTSKF_HOME, see docs/tokens.md):
 *   <home>/<device>/serial                          optional serial number (text)
 *   <home>/<device>/<application>/user.pin           SM3 of the user PIN, hex (its presence makes an application)
 *   <home>/<device>/<application>/admin.pin          SM3 of the administrator PIN, hex (optional)
 *   <home>/<device>/<application>/retries            user PIN tries left (text; 6 when missing)
 *   <home>/<device>/<application>/files/<name>       application files (SKF_ReadFile)
 *   <home>/<device>/<application>/containers/<name>/sign.key   SM2 private key, PEM (PKCS#8 or SEC1)
 *   <home>/<device>/<application>/containers/<name>/sign.cer   signing certificate, DER (may be absent)
 * Removing <device> pulls the key: every handle into it then answers SAR_DEVICE_REMOVED, and a device
 * re-created under the same name is a new insertion (handles remember the directory's inode).
 */
#define _GNU_SOURCE
#include "skf.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_TRIES 6
#define MAX_NAME 64
#define MAX_FILE (1u << 20)

enum { MAGIC_DEV = 0x534b4644, MAGIC_APP = 0x534b4641, MAGIC_CON = 0x534b4643, MAGIC_HASH = 0x534b4648 };

struct dev {
    uint32_t magic;
    char name[MAX_NAME + 1];
    char path[PATH_MAX];
    ino_t ino;
};

struct app {
    uint32_t magic;
    struct dev *dev;
    char name[MAX_NAME + 1];
    char path[PATH_MAX];
    int logged_in;
};

struct con {
    uint32_t magic;
    struct app *app;
    char name[MAX_NAME + 1];
    char path[PATH_MAX];
};

struct hash {
    uint32_t magic;
    EVP_MD_CTX *md;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int cancel_wait;

/* ---------------------------------------------------------------------------------------------- store */

static const char *home(void) {
    const char *h = getenv("SOFTSKF_HOME");
    return (h && *h) ? h : NULL;
}

static int valid_name(const char *name) {
    size_t n;
    if (!name) return 0;
    n = strlen(name);
    if (n == 0 || n > MAX_NAME || name[0] == '.') return 0;
    return strchr(name, '/') == NULL && strchr(name, '\\') == NULL;
}

static int is_dir(const char *path, ino_t *ino) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    if (ino) *ino = st.st_ino;
    return 1;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int join(char *out, const char *a, const char *b) {
    int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
    return n > 0 && n < PATH_MAX;
}

/* The device behind a handle is still the one connected: same directory, same inode. */
static int dev_present(const struct dev *d) {
    ino_t ino;
    return is_dir(d->path, &ino) && ino == d->ino;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A sorted SKF multi-string ("a\0b\0\0") of the entries of `dir` for which keep(dir, name) holds. */
static ULONG list_dir(const char *dir, int (*keep)(const char *, const char *), LPSTR out, ULONG *size) {
    DIR *d;
    struct dirent *e;
    char *names[256];
    size_t count = 0, need = 1, i;
    ULONG rv = SAR_OK;
    if (!size) return SAR_INVALIDPARAMERR;
    d = opendir(dir);
    if (d) {
        while ((e = readdir(d)) != NULL && count < 256) {
            if (!valid_name(e->d_name) || !keep(dir, e->d_name)) continue;
            names[count] = strdup(e->d_name);
            if (!names[count]) break;
            need += strlen(names[count]) + 1;
            count++;
        }
        closedir(d);
    }
    qsort(names, count, sizeof(char *), cmp_str);
    if (count == 0) need = 2;
    if (out) {
        if (*size < need) {
            rv = SAR_BUFFER_TOO_SMALL;
        } else {
            char *p = out;
            memset(out, 0, need);
            for (i = 0; i < count; i++) {
                size_t n = strlen(names[i]) + 1;
                memcpy(p, names[i], n);
                p += n;
            }
        }
    }
    *size = (ULONG)need;
    for (i = 0; i < count; i++) free(names[i]);
    return rv;
}

static int keep_dir(const char *dir, const char *name) {
    char p[PATH_MAX];
    return join(p, dir, name) && is_dir(p, NULL);
}

static int keep_app(const char *dir, const char *name) {
    char p[PATH_MAX], f[PATH_MAX];
    return join(p, dir, name) && is_dir(p, NULL) && join(f, p, "user.pin") && is_file(f);
}

static int keep_file(const char *dir, const char *name) {
    char p[PATH_MAX];
    return join(p, dir, name) && is_file(p);
}

static int read_all(const char *path, unsigned char **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (!f) return 0;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > (long)MAX_FILE || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return 0;
    }
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return 0;
    }
    fclose(f);
    buf[n] = 0;
    *data = buf;
    *len = (size_t)n;
    return 1;
}

/* Write through a temporary file and rename, so a crash never leaves half a counter. */
static int write_atomic(const char *path, const char *text) {
    char tmp[PATH_MAX];
    FILE *f;
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp) return 0;
    f = fopen(tmp, "wb");
    if (!f) return 0;
    if (fputs(text, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        unlink(tmp);
        return 0;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return 0;
    }
    return 1;
}

static int app_file(const struct app *a, const char *name, char *out) { return join(out, a->path, name); }

static int tries_left(const struct app *a) {
    char p[PATH_MAX];
    unsigned char *data;
    size_t len;
    long v;
    if (!app_file(a, "retries", p) || !read_all(p, &data, &len)) return MAX_TRIES;
    v = strtol((char *)data, NULL, 10);
    free(data);
    if (v < 0) v = 0;
    if (v > MAX_TRIES) v = MAX_TRIES;
    return (int)v;
}

static int set_tries(const struct app *a, int n) {
    char p[PATH_MAX], text[16];
    snprintf(text, sizeof text, "%d\n", n);
    return app_file(a, "retries", p) && write_atomic(p, text);
}

static int sm3_hex(const char *text, char out[65]) {
    unsigned char md[32];
    unsigned int n = 0;
    int i;
    if (!EVP_Digest(text, strlen(text), md, &n, EVP_sm3(), NULL) || n != 32) return 0;
    for (i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = 0;
    return 1;
}

/* 1 = PIN matches, 0 = it does not, -1 = the PIN file is missing or unreadable. */
static int pin_matches(const struct app *a, ULONG type, const char *pin) {
    char p[PATH_MAX], want[65];
    unsigned char *data;
    size_t len;
    int ok;
    if (!app_file(a, type == ADMIN_TYPE ? "admin.pin" : "user.pin", p) || !read_all(p, &data, &len)) return -1;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' ')) data[--len] = 0;
    ok = sm3_hex(pin, want) && len == 64 && CRYPTO_memcmp(want, data, 64) == 0;
    free(data);
    return ok;
}

static EVP_PKEY *load_key(const struct con *c) {
    char p[PATH_MAX];
    FILE *f;
    EVP_PKEY *key;
    if (!join(p, c->path, "sign.key") || !(f = fopen(p, "rb"))) return NULL;
    key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return key;
}

/* ----------------------------------------------------------------------------------------- handle checks */

static ULONG check_dev(struct dev *d) {
    if (!d || d->magic != MAGIC_DEV) return SAR_INVALIDHANDLEERR;
    return dev_present(d) ? SAR_OK : SAR_DEVICE_REMOVED;
}

static ULONG check_app(struct app *a) {
    if (!a || a->magic != MAGIC_APP) return SAR_INVALIDHANDLEERR;
    if (!dev_present(a->dev)) {
        a->logged_in = 0;
        return SAR_DEVICE_REMOVED;
    }
    return is_dir(a->path, NULL) ? SAR_OK : SAR_APPLICATION_NOT_EXISTS;
}

static ULONG check_con(struct con *c) {
    ULONG rv;
    if (!c || c->magic != MAGIC_CON) return SAR_INVALIDHANDLEERR;
    rv = check_app(c->app);
    if (rv != SAR_OK) return rv;
    return is_dir(c->path, NULL) ? SAR_OK : SAR_INVALIDHANDLEERR;
}

#define LOCKED(expr)                       \
    do {                                   \
        ULONG rv_;                         \
        pthread_mutex_lock(&lock);         \
        rv_ = (expr);                      \
        pthread_mutex_unlock(&lock);       \
        return rv_;                        \
    } while (0)

/* ------------------------------------------------------------------------------------------------ devices */

static ULONG enum_dev(LPSTR list, ULONG *size) {
    if (!home()) {
        if (!size) return SAR_INVALIDPARAMERR;
        if (list && *size >= 2) list[0] = list[1] = 0;
        else if (list) return SAR_BUFFER_TOO_SMALL;
        *size = 2;
        return SAR_OK;
    }
    return list_dir(home(), keep_dir, list, size);
}

EXPORT ULONG DEVAPI SKF_EnumDev(BOOL bPresent, LPSTR szNameList, ULONG *pulSize) {
    (void)bPresent; /* a software key has no empty reader slots: present and known are the same */
    LOCKED(enum_dev(szNameList, pulSize));
}

static ULONG connect_dev(LPSTR name, DEVHANDLE *out) {
    struct dev *d;
    if (!out || !valid_name(name)) return SAR_INVALIDPARAMERR;
    if (!home()) return SAR_DEVICE_REMOVED;
    d = calloc(1, sizeof *d);
    if (!d) return SAR_MEMORYERR;
    d->magic = MAGIC_DEV;
    strcpy(d->name, name);
    if (!join(d->path, home(), name) || !is_dir(d->path, &d->ino)) {
        free(d);
        return SAR_DEVICE_REMOVED;
    }
    *out = d;
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_ConnectDev(LPSTR szName, DEVHANDLE *phDev) { LOCKED(connect_dev(szName, phDev)); }

static ULONG disconnect(struct dev *d) {
    if (!d || d->magic != MAGIC_DEV) return SAR_INVALIDHANDLEERR;
    d->magic = 0;
    free(d);
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_DisConnectDev(DEVHANDLE hDev) { LOCKED(disconnect(hDev)); }

static ULONG dev_state(LPSTR name, ULONG *state) {
    char p[PATH_MAX];
    if (!state || !valid_name(name)) return SAR_INVALIDPARAMERR;
    *state = (home() && join(p, home(), name) && is_dir(p, NULL)) ? DEV_PRESENT_STATE : DEV_ABSENT_STATE;
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_GetDevState(LPSTR szDevName, ULONG *pulDevState) { LOCKED(dev_state(szDevName, pulDevState)); }

static ULONG dev_info(struct dev *d, DEVINFO *info) {
    char p[PATH_MAX];
    unsigned char *data;
    size_t len;
    ULONG rv = check_dev(d);
    if (rv != SAR_OK) return rv;
    if (!info) return SAR_INVALIDPARAMERR;
    memset(info, 0, sizeof *info);
    info->Version.major = 1;
    info->Version.minor = 0;
    snprintf(info->Manufacturer, sizeof info->Manufacturer, "SealBridge");
    snprintf(info->Issuer, sizeof info->Issuer, "SealBridge software key (not for real seals)");
    snprintf(info->Label, sizeof info->Label, "%.31s", d->name);
    if (join(p, d->path, "serial") && read_all(p, &data, &len)) {
        while (len && (data[len - 1] == '\n' || data[len - 1] == '\r')) data[--len] = 0;
        snprintf(info->SerialNumber, sizeof info->SerialNumber, "%.31s", (char *)data);
        free(data);
    } else {
        snprintf(info->SerialNumber, sizeof info->SerialNumber, "%lu", (unsigned long)d->ino);
    }
    info->HWVersion.major = 1;
    info->FirmwareVersion.major = 1;
    info->AlgAsymCap = SGD_SM2_1;
    info->AlgHashCap = SGD_SM3;
    info->TotalSpace = 1u << 24;
    info->FreeSpace = 1u << 23;
    info->MaxECCBufferSize = 256;
    info->MaxBufferSize = 4096;
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_GetDevInfo(DEVHANDLE hDev, DEVINFO *pDevInfo) { LOCKED(dev_info(hDev, pDevInfo)); }

/* Polls the store: the first difference from the call's starting view is the event (1 = in, 2 = out). */
EXPORT ULONG DEVAPI SKF_WaitForDevEvent(LPSTR szDevName, ULONG *pulDevNameLen, ULONG *pulEvent) {
    char before[4096], now[4096];
    ULONG n;
    if (!szDevName || !pulDevNameLen || !pulEvent) return SAR_INVALIDPARAMERR;
    cancel_wait = 0;
    n = sizeof before;
    if (enum_dev(before, &n) != SAR_OK) return SAR_FAIL;
    for (;;) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        const char *p;
        if (cancel_wait) return SAR_FAIL;
        nanosleep(&ts, NULL);
        n = sizeof now;
        if (enum_dev(now, &n) != SAR_OK) return SAR_FAIL;
        for (int pass = 0; pass < 2; pass++) {
            const char *a = pass == 0 ? now : before, *b = pass == 0 ? before : now;
            for (p = a; *p; p += strlen(p) + 1) {
                const char *q;
                int found = 0;
                for (q = b; *q; q += strlen(q) + 1)
                    if (strcmp(p, q) == 0) found = 1;
                if (!found) {
                    size_t len = strlen(p) + 1;
                    if (*pulDevNameLen < len) return SAR_BUFFER_TOO_SMALL;
                    memcpy(szDevName, p, len);
                    *pulDevNameLen = (ULONG)len;
                    *pulEvent = pass == 0 ? 1 : 2;
                    return SAR_OK;
                }
            }
        }
    }
}

EXPORT ULONG DEVAPI SKF_CancelWaitForDevEvent(void) {
    cancel_wait = 1;
    return SAR_OK;
}

/* ------------------------------------------------------------------------------------------- applications */

static ULONG enum_app(struct dev *d, LPSTR list, ULONG *size) {
    ULONG rv = check_dev(d);
    return rv != SAR_OK ? rv : list_dir(d->path, keep_app, list, size);
}

EXPORT ULONG DEVAPI SKF_EnumApplication(DEVHANDLE hDev, LPSTR szAppName, ULONG *pulSize) {
    LOCKED(enum_app(hDev, szAppName, pulSize));
}

static ULONG open_app(struct dev *d, LPSTR name, HAPPLICATION *out) {
    struct app *a;
    ULONG rv = check_dev(d);
    if (rv != SAR_OK) return rv;
    if (!out || !valid_name(name)) return SAR_INVALIDPARAMERR;
    if (!keep_app(d->path, name)) return SAR_APPLICATION_NOT_EXISTS;
    a = calloc(1, sizeof *a);
    if (!a) return SAR_MEMORYERR;
    a->magic = MAGIC_APP;
    a->dev = d;
    strcpy(a->name, name);
    join(a->path, d->path, name);
    *out = a;
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_OpenApplication(DEVHANDLE hDev, LPSTR szAppName, HAPPLICATION *phApplication) {
    LOCKED(open_app(hDev, szAppName, phApplication));
}

static ULONG close_app(struct app *a) {
    if (!a || a->magic != MAGIC_APP) return SAR_INVALIDHANDLEERR;
    a->magic = 0;
    free(a);
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_CloseApplication(HAPPLICATION hApplication) { LOCKED(close_app(hApplication)); }

static ULONG pin_info(struct app *a, ULONG type, ULONG *max, ULONG *remain, BOOL *is_default) {
    ULONG rv = check_app(a);
    if (rv != SAR_OK) return rv;
    if (type != USER_TYPE && type != ADMIN_TYPE) return SAR_USER_TYPE_INVALID;
    if (max) *max = MAX_TRIES;
    if (remain) *remain = type == USER_TYPE ? (ULONG)tries_left(a) : MAX_TRIES;
    if (is_default) *is_default = FALSE;
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_GetPINInfo(HAPPLICATION hApplication, ULONG ulPINType, ULONG *pulMaxRetryCount,
                                   ULONG *pulRemainRetryCount, BOOL *pbDefaultPin) {
    LOCKED(pin_info(hApplication, ulPINType, pulMaxRetryCount, pulRemainRetryCount, pbDefaultPin));
}

/* Checks a PIN against the counter: a wrong one costs a try, the last wrong one locks. */
static ULONG check_pin(struct app *a, ULONG type, const char *pin, ULONG *retry) {
    int left, match;
    if (type != USER_TYPE && type != ADMIN_TYPE) return SAR_USER_TYPE_INVALID;
    if (!pin) return SAR_INVALIDPARAMERR;
    if (strlen(pin) < 1 || strlen(pin) > 64) return SAR_PIN_LEN_RANGE;
    left = type == USER_TYPE ? tries_left(a) : MAX_TRIES;
    if (retry) *retry = (ULONG)left;
    if (left <= 0) return SAR_PIN_LOCKED;
    match = pin_matches(a, type, pin);
    if (match < 0) return type == ADMIN_TYPE ? SAR_PIN_INCORRECT : SAR_FILEERR;
    if (type == ADMIN_TYPE) return match ? SAR_OK : SAR_PIN_INCORRECT;
    if (!match) {
        left--;
        if (!set_tries(a, left)) return SAR_WRITEFILEERR;
        if (retry) *retry = (ULONG)left;
        return left == 0 ? SAR_PIN_LOCKED : SAR_PIN_INCORRECT;
    }
    if (left != MAX_TRIES && !set_tries(a, MAX_TRIES)) return SAR_WRITEFILEERR;
    if (retry) *retry = MAX_TRIES;
    return SAR_OK;
}

static ULONG verify_pin(struct app *a, ULONG type, LPSTR pin, ULONG *retry) {
    ULONG rv = check_app(a);
    if (rv != SAR_OK) return rv;
    a->logged_in = 0;
    rv = check_pin(a, type, pin, retry);
    if (rv == SAR_OK && type == USER_TYPE) a->logged_in = 1;
    return rv;
}

EXPORT ULONG DEVAPI SKF_VerifyPIN(HAPPLICATION hApplication, ULONG ulPINType, LPSTR szPIN, ULONG *pulRetryCount) {
    LOCKED(verify_pin(hApplication, ulPINType, szPIN, pulRetryCount));
}

static ULONG change_pin(struct app *a, ULONG type, LPSTR old_pin, LPSTR new_pin, ULONG *retry) {
    char p[PATH_MAX], hex[66];
    ULONG rv = check_app(a);
    if (rv != SAR_OK) return rv;
    if (!new_pin) return SAR_INVALIDPARAMERR;
    if (strlen(new_pin) < 6 || strlen(new_pin) > 64) return SAR_PIN_LEN_RANGE;
    rv = check_pin(a, type, old_pin, retry);
    if (rv != SAR_OK) return rv;
    if (!sm3_hex(new_pin, hex)) return SAR_HASHERR;
    strcat(hex, "\n");
    if (!app_file(a, type == ADMIN_TYPE ? "admin.pin" : "user.pin", p) || !write_atomic(p, hex))
        return SAR_WRITEFILEERR;
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_ChangePIN(HAPPLICATION hApplication, ULONG ulPINType, LPSTR szOldPin, LPSTR szNewPin,
                                  ULONG *pulRetryCount) {
    LOCKED(change_pin(hApplication, ulPINType, szOldPin, szNewPin, pulRetryCount));
}

static ULONG clear_state(struct app *a) {
    if (!a || a->magic != MAGIC_APP) return SAR_INVALIDHANDLEERR;
    a->logged_in = 0;
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_ClearSecureState(HAPPLICATION hApplication) { LOCKED(clear_state(hApplication)); }

/* ------------------------------------------------------------------------------------------------- files */

static ULONG enum_files(struct app *a, LPSTR list, ULONG *size) {
    char p[PATH_MAX];
    ULONG rv = check_app(a);
    if (rv != SAR_OK) return rv;
    join(p, a->path, "files");
    return list_dir(p, keep_file, list, size);
}

EXPORT ULONG DEVAPI SKF_EnumFiles(HAPPLICATION hApplication, LPSTR szFileList, ULONG *pulSize) {
    LOCKED(enum_files(hApplication, szFileList, pulSize));
}

static int file_path(const struct app *a, const char *name, char *out) {
    char dir[PATH_MAX];
    return valid_name(name) && join(dir, a->path, "files") && join(out, dir, name);
}

static ULONG file_info(struct app *a, LPSTR name, FILEATTRIBUTE *attr) {
    char p[PATH_MAX];
    struct stat st;
    ULONG rv = check_app(a);
    if (rv != SAR_OK) return rv;
    if (!attr || !valid_name(name) || strlen(name) >= sizeof attr->FileName) return SAR_INVALIDPARAMERR;
    if (!file_path(a, name, p) || stat(p, &st) != 0 || !S_ISREG(st.st_mode)) return SAR_FILE_NOT_EXIST;
    memset(attr, 0, sizeof *attr);
    strcpy(attr->FileName, name);
    attr->FileSize = (ULONG)st.st_size;
    attr->ReadRights = 0xFF;  /* SECURE_ANYONE_ACCOUNT */
    attr->WriteRights = 0x10; /* SECURE_USER_ACCOUNT */
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_GetFileInfo(HAPPLICATION hApplication, LPSTR szFileName, FILEATTRIBUTE *pFileInfo) {
    LOCKED(file_info(hApplication, szFileName, pFileInfo));
}

static ULONG read_file(struct app *a, LPSTR name, ULONG offset, ULONG size, BYTE *out, ULONG *out_len) {
    char p[PATH_MAX];
    unsigned char *data;
    size_t len, n;
    ULONG rv = check_app(a);
    if (rv != SAR_OK) return rv;
    if (!out_len || !valid_name(name)) return SAR_INVALIDPARAMERR;
    if (!file_path(a, name, p) || !is_file(p)) return SAR_FILE_NOT_EXIST;
    if (!read_all(p, &data, &len)) return SAR_READFILEERR;
    n = offset >= len ? 0 : len - offset;
    if (n > size) n = size;
    if (out) {
        if (*out_len < n) {
            *out_len = (ULONG)n;
            free(data);
            return SAR_BUFFER_TOO_SMALL;
        }
        memcpy(out, data + (offset < len ? offset : len), n);
    }
    *out_len = (ULONG)n;
    free(data);
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_ReadFile(HAPPLICATION hApplication, LPSTR szFileName, ULONG ulOffset, ULONG ulSize,
                                 BYTE *pbOutData, ULONG *pulOutLen) {
    LOCKED(read_file(hApplication, szFileName, ulOffset, ulSize, pbOutData, pulOutLen));
}

/* ---------------------------------------------------------------------------------------------- containers */

static ULONG enum_con(struct app *a, LPSTR list, ULONG *size) {
    char p[PATH_MAX];
    ULONG rv = check_app(a);
    if (rv != SAR_OK) return rv;
    join(p, a->path, "containers");
    return list_dir(p, keep_dir, list, size);
}

EXPORT ULONG DEVAPI SKF_EnumContainer(HAPPLICATION hApplication, LPSTR szContainerName, ULONG *pulSize) {
    LOCKED(enum_con(hApplication, szContainerName, pulSize));
}

static ULONG open_con(struct app *a, LPSTR name, HCONTAINER *out) {
    char dir[PATH_MAX];
    struct con *c;
    ULONG rv = check_app(a);
    if (rv != SAR_OK) return rv;
    if (!out || !valid_name(name)) return SAR_INVALIDPARAMERR;
    c = calloc(1, sizeof *c);
    if (!c) return SAR_MEMORYERR;
    c->magic = MAGIC_CON;
    c->app = a;
    strcpy(c->name, name);
    if (!join(dir, a->path, "containers") || !join(c->path, dir, name) || !is_dir(c->path, NULL)) {
        free(c);
        return SAR_INVALIDPARAMERR;
    }
    *out = c;
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_OpenContainer(HAPPLICATION hApplication, LPSTR szContainerName, HCONTAINER *phContainer) {
    LOCKED(open_con(hApplication, szContainerName, phContainer));
}

static ULONG close_con(struct con *c) {
    if (!c || c->magic != MAGIC_CON) return SAR_INVALIDHANDLEERR;
    c->magic = 0;
    free(c);
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_CloseContainer(HCONTAINER hContainer) { LOCKED(close_con(hContainer)); }

static ULONG con_type(struct con *c, ULONG *type) {
    char p[PATH_MAX];
    ULONG rv = check_con(c);
    if (rv != SAR_OK) return rv;
    if (!type) return SAR_INVALIDPARAMERR;
    *type = (join(p, c->path, "sign.key") && is_file(p)) ? CONTAINER_ECC : CONTAINER_EMPTY;
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_GetContainerType(HCONTAINER hContainer, ULONG *pulContainerType) {
    LOCKED(con_type(hContainer, pulContainerType));
}

static ULONG export_cert(struct con *c, BOOL sign, BYTE *out, ULONG *len) {
    char p[PATH_MAX];
    unsigned char *data;
    size_t n;
    ULONG rv = check_con(c);
    if (rv != SAR_OK) return rv;
    if (!len) return SAR_INVALIDPARAMERR;
    if (!join(p, c->path, sign ? "sign.cer" : "enc.cer") || !is_file(p)) return SAR_CERTNOTFOUNTERR;
    if (!read_all(p, &data, &n)) return SAR_READFILEERR;
    if (out && *len < n) rv = SAR_BUFFER_TOO_SMALL;
    else if (out) memcpy(out, data, n);
    *len = (ULONG)n;
    free(data);
    return rv;
}

EXPORT ULONG DEVAPI SKF_ExportCertificate(HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbCert, ULONG *pulCertLen) {
    LOCKED(export_cert(hContainer, bSignFlag, pbCert, pulCertLen));
}

/* Fills an ECCPUBLICKEYBLOB (x, y right-aligned in 64-byte fields) from the key. */
static int key_blob(EVP_PKEY *key, ECCPUBLICKEYBLOB *blob) {
    BIGNUM *x = NULL, *y = NULL;
    int ok;
    memset(blob, 0, sizeof *blob);
    ok = EVP_PKEY_get_bn_param(key, "qx", &x) && EVP_PKEY_get_bn_param(key, "qy", &y) &&
         BN_bn2binpad(x, blob->XCoordinate + 32, 32) == 32 && BN_bn2binpad(y, blob->YCoordinate + 32, 32) == 32;
    blob->BitLen = 256;
    BN_free(x);
    BN_free(y);
    return ok;
}

static ULONG export_pub(struct con *c, BOOL sign, BYTE *out, ULONG *len) {
    EVP_PKEY *key;
    ECCPUBLICKEYBLOB blob;
    ULONG rv = check_con(c);
    if (rv != SAR_OK) return rv;
    if (!len) return SAR_INVALIDPARAMERR;
    if (!sign) return SAR_KEYNOTFOUNTERR;
    if (!(key = load_key(c))) return SAR_KEYNOTFOUNTERR;
    if (!key_blob(key, &blob)) rv = SAR_FAIL;
    EVP_PKEY_free(key);
    if (rv != SAR_OK) return rv;
    if (out && *len < sizeof blob) rv = SAR_BUFFER_TOO_SMALL;
    else if (out) memcpy(out, &blob, sizeof blob);
    *len = sizeof blob;
    return rv;
}

EXPORT ULONG DEVAPI SKF_ExportPublicKey(HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbBlob, ULONG *pulBlobLen) {
    LOCKED(export_pub(hContainer, bSignFlag, pbBlob, pulBlobLen));
}

/* ------------------------------------------------------------------------------------------------ SM2 */

/* Signs the 32-byte pre-processed hash e = SM3(Z‖M) as is (no second hash). */
static ULONG ecc_sign(struct con *c, BYTE *data, ULONG len, ECCSIGNATUREBLOB *sig) {
    EVP_PKEY *key;
    EVP_PKEY_CTX *ctx = NULL;
    unsigned char der[128];
    const unsigned char *p = der;
    size_t der_len = sizeof der;
    ECDSA_SIG *s = NULL;
    ULONG rv = check_con(c);
    if (rv != SAR_OK) return rv;
    if (!data || !sig) return SAR_INVALIDPARAMERR;
    if (len != 32) return SAR_INDATALENERR;
    if (!c->app->logged_in) return SAR_USER_NOT_LOGGED_IN;
    if (!(key = load_key(c))) return SAR_KEYNOTFOUNTERR;
    rv = SAR_FAIL;
    if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) && EVP_PKEY_sign_init(ctx) > 0 &&
        EVP_PKEY_sign(ctx, der, &der_len, data, len) > 0 && (s = d2i_ECDSA_SIG(NULL, &p, (long)der_len))) {
        memset(sig, 0, sizeof *sig);
        if (BN_bn2binpad(ECDSA_SIG_get0_r(s), sig->r + 32, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(s), sig->s + 32, 32) == 32)
            rv = SAR_OK;
    }
    ECDSA_SIG_free(s);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rv;
}

EXPORT ULONG DEVAPI SKF_ECCSignData(HCONTAINER hContainer, BYTE *pbData, ULONG ulDataLen, ECCSIGNATUREBLOB *pSignature) {
    LOCKED(ecc_sign(hContainer, pbData, ulDataLen, pSignature));
}

static EVP_PKEY *pkey_from_blob(const ECCPUBLICKEYBLOB *blob) {
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_sm2);
    EC_POINT *pt = NULL;
    BIGNUM *x = BN_bin2bn(blob->XCoordinate + 32, 32, NULL), *y = BN_bin2bn(blob->YCoordinate + 32, 32, NULL);
    unsigned char oct[65];
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM params[3];
    if (group && x && y && (pt = EC_POINT_new(group)) && EC_POINT_set_affine_coordinates(group, pt, x, y, NULL) &&
        EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, oct, sizeof oct, NULL) == 65) {
        params[0] = OSSL_PARAM_construct_utf8_string("group", "SM2", 0);
        params[1] = OSSL_PARAM_construct_octet_string("pub", oct, sizeof oct);
        params[2] = OSSL_PARAM_construct_end();
        if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL)) && EVP_PKEY_fromdata_init(ctx) > 0)
            EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
    }
    EVP_PKEY_CTX_free(ctx);
    EC_POINT_free(pt);
    EC_GROUP_free(group);
    BN_free(x);
    BN_free(y);
    return key;
}

static ULONG ecc_verify(struct dev *d, ECCPUBLICKEYBLOB *pub, BYTE *data, ULONG len, ECCSIGNATUREBLOB *sig) {
    EVP_PKEY *key;
    EVP_PKEY_CTX *ctx = NULL;
    ECDSA_SIG *s;
    unsigned char *der = NULL;
    int der_len;
    ULONG rv = check_dev(d);
    if (rv != SAR_OK) return rv;
    if (!pub || !data || !sig) return SAR_INVALIDPARAMERR;
    if (len != 32) return SAR_INDATALENERR;
    if (!(key = pkey_from_blob(pub))) return SAR_INDATAERR;
    s = ECDSA_SIG_new();
    rv = SAR_FAIL;
    if (s && ECDSA_SIG_set0(s, BN_bin2bn(sig->r + 32, 32, NULL), BN_bin2bn(sig->s + 32, 32, NULL)) &&
        (der_len = i2d_ECDSA_SIG(s, &der)) > 0 && (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) &&
        EVP_PKEY_verify_init(ctx) > 0)
        rv = EVP_PKEY_verify(ctx, der, (size_t)der_len, data, len) == 1 ? SAR_OK : SAR_FAIL;
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rv;
}

EXPORT ULONG DEVAPI SKF_ECCVerify(DEVHANDLE hDev, ECCPUBLICKEYBLOB *pECCPubKeyBlob, BYTE *pbData, ULONG ulDataLen,
                                  ECCSIGNATUREBLOB *pSignature) {
    LOCKED(ecc_verify(hDev, pECCPubKeyBlob, pbData, ulDataLen, pSignature));
}

/* Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) (GB/T 32918.2), the curve's numbers taken from OpenSSL. */
static int sm2_z(const ECCPUBLICKEYBLOB *pub, const BYTE *id, ULONG id_len, unsigned char z[32]) {
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_sm2);
    BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new(), *gx = BN_new(), *gy = BN_new();
    unsigned char buf[2 + 8192 / 8 + 6 * 32];
    size_t off = 0;
    unsigned int n = 0;
    int ok = 0;
    if (id_len > 8191 / 8 || !group || !p || !a || !b || !gx || !gy) goto done;
    if (!EC_GROUP_get_curve(group, p, a, b, NULL) ||
        !EC_POINT_get_affine_coordinates(group, EC_GROUP_get0_generator(group), gx, gy, NULL))
        goto done;
    buf[off++] = (unsigned char)((id_len * 8) >> 8);
    buf[off++] = (unsigned char)(id_len * 8);
    memcpy(buf + off, id, id_len);
    off += id_len;
    if (BN_bn2binpad(a, buf + off, 32) != 32 || BN_bn2binpad(b, buf + (off + 32), 32) != 32 ||
        BN_bn2binpad(gx, buf + (off + 64), 32) != 32 || BN_bn2binpad(gy, buf + (off + 96), 32) != 32)
        goto done;
    off += 128;
    memcpy(buf + off, pub->XCoordinate + 32, 32);
    memcpy(buf + off + 32, pub->YCoordinate + 32, 32);
    off += 64;
    ok = EVP_Digest(buf, off, z, &n, EVP_sm3(), NULL) && n == 32;
done:
    BN_free(p);
    BN_free(a);
    BN_free(b);
    BN_free(gx);
    BN_free(gy);
    EC_GROUP_free(group);
    return ok;
}

static ULONG digest_init(struct dev *d, ULONG alg, ECCPUBLICKEYBLOB *pub, BYTE *id, ULONG id_len, HANDLE *out) {
    struct hash *h;
    unsigned char z[32];
    ULONG rv = check_dev(d);
    if (rv != SAR_OK) return rv;
    if (!out) return SAR_INVALIDPARAMERR;
    if (alg != SGD_SM3) return SAR_NOTSUPPORTYETERR;
    if (pub && (!id || id_len == 0)) return SAR_INVALIDPARAMERR;
    h = calloc(1, sizeof *h);
    if (!h || !(h->md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(h->md, EVP_sm3(), NULL)) goto fail;
    if (pub && (!sm2_z(pub, id, id_len, z) || !EVP_DigestUpdate(h->md, z, 32))) goto fail;
    h->magic = MAGIC_HASH;
    *out = h;
    return SAR_OK;
fail:
    if (h) EVP_MD_CTX_free(h->md);
    free(h);
    return SAR_HASHERR;
}

EXPORT ULONG DEVAPI SKF_DigestInit(DEVHANDLE hDev, ULONG ulAlgID, ECCPUBLICKEYBLOB *pPubKey, BYTE *pucID,
                                   ULONG ulIDLen, HANDLE *phHash) {
    LOCKED(digest_init(hDev, ulAlgID, pPubKey, pucID, ulIDLen, phHash));
}

static ULONG digest_update(struct hash *h, BYTE *data, ULONG len) {
    if (!h || h->magic != MAGIC_HASH) return SAR_INVALIDHANDLEERR;
    if (len && !data) return SAR_INVALIDPARAMERR;
    return EVP_DigestUpdate(h->md, data, len) ? SAR_OK : SAR_HASHERR;
}

EXPORT ULONG DEVAPI SKF_DigestUpdate(HANDLE hHash, BYTE *pbData, ULONG ulDataLen) {
    LOCKED(digest_update(hHash, pbData, ulDataLen));
}

static ULONG digest_final(struct hash *h, BYTE *out, ULONG *len) {
    unsigned int n = 0;
    if (!h || h->magic != MAGIC_HASH) return SAR_INVALIDHANDLEERR;
    if (!len) return SAR_INVALIDPARAMERR;
    if (!out) {
        *len = 32;
        return SAR_OK;
    }
    if (*len < 32) {
        *len = 32;
        return SAR_BUFFER_TOO_SMALL;
    }
    if (!EVP_DigestFinal_ex(h->md, out, &n)) return SAR_HASHERR;
    *len = n;
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_DigestFinal(HANDLE hHash, BYTE *pHashData, ULONG *pulHashLen) {
    LOCKED(digest_final(hHash, pHashData, pulHashLen));
}

static ULONG digest(struct hash *h, BYTE *data, ULONG len, BYTE *out, ULONG *out_len) {
    ULONG rv;
    if (!h || h->magic != MAGIC_HASH) return SAR_INVALIDHANDLEERR;
    if (!out_len) return SAR_INVALIDPARAMERR;
    if (!out) {
        *out_len = 32;
        return SAR_OK;
    }
    if (*out_len < 32) {
        *out_len = 32;
        return SAR_BUFFER_TOO_SMALL;
    }
    rv = digest_update(h, data, len);
    return rv != SAR_OK ? rv : digest_final(h, out, out_len);
}

EXPORT ULONG DEVAPI SKF_Digest(HANDLE hHash, BYTE *pbData, ULONG ulDataLen, BYTE *pbHashData, ULONG *pulHashLen) {
    LOCKED(digest(hHash, pbData, ulDataLen, pbHashData, pulHashLen));
}

static ULONG close_handle(struct hash *h) {
    if (!h || h->magic != MAGIC_HASH) return SAR_INVALIDHANDLEERR;
    h->magic = 0;
    EVP_MD_CTX_free(h->md);
    free(h);
    return SAR_OK;
}

EXPORT ULONG DEVAPI SKF_CloseHandle(HANDLE hHandle) { LOCKED(close_handle(hHandle)); }
