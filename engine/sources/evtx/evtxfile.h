/* evtxfile.h - the EVTX container: file header, 64 KB chunks with their
 * checksums, and the event records in each chunk.
 *
 * A file is read one chunk at a time into a fixed buffer, so memory does not
 * grow with the file (and only as much of a chunk as its records use).  Damage is reported, never fatal: a chunk whose
 * checksums are wrong is still read where its structure holds. */
#ifndef ETWL_EVTX_FILE_H
#define ETWL_EVTX_FILE_H

#include <stdint.h>
#include <stdio.h>

#define EVTX_HEADER_SIZE 4096u
#define EVTX_CHUNK_SIZE 65536u
#define EVTX_RECORDS_START 512u

typedef struct evtx_record {
    uint32_t off;  /* in the chunk */
    uint32_t size; /* the whole record */
    uint64_t id;
    uint64_t written;        /* FILETIME */
    uint32_t data, data_end; /* BinXml, chunk offsets */
} evtx_record;

typedef struct evtx_file {
    FILE *f;
    uint64_t size;
    uint8_t header[EVTX_HEADER_SIZE];
    uint8_t chunk[EVTX_CHUNK_SIZE];
    uint32_t nchunks;  /* chunks in the file, the last maybe cut short */
    uint32_t avail;    /* bytes of the loaded chunk the file holds */
    uint32_t loaded;   /* bytes of chunk[] read so far (the rest is stale) */
    uint32_t ci;       /* index of the chunk in chunk[] */
    uint32_t next;     /* offset of the next record in chunk[] */
    uint32_t limit;    /* records end here (the chunk's free space offset) */
    int header_crc_ok; /* the chunk header checksum matched */
    int data_crc_ok;   /* the records checksum matched */
    int stopped;       /* record walk ended early: why is in why[] */
    char why[160];
} evtx_file;

uint32_t evtx_crc32(const uint8_t *p, size_t n);

/* Opens path and checks the file header.  Returns 0, or -1 with msg set. */
int evtx_file_open(evtx_file *x, const char *path, char *msg, size_t msgsz);
void evtx_file_close(evtx_file *x);

/* Loads chunk i.  Returns 1 when it is a chunk (checksums in
 * header_crc_ok / data_crc_ok), 0 when there is no chunk signature there
 * (unused space), -1 on a read error.  A healthy chunk is read only as far
 * as its records go (loaded == limit); a damaged or cut one in full (the
 * part past the end of the file as zeros). */
int evtx_file_chunk(evtx_file *x, uint32_t i);

/* Reads the rest of the loaded chunk (evtx_file_scan does): 0, or -1 on a
 * read error. */
int evtx_file_load_all(evtx_file *x);

/* The next record of the loaded chunk: 1 and *r, or 0 at its end (stopped
 * and why[] set when the end was damage rather than the chunk's last
 * record). */
int evtx_file_record(evtx_file *x, evtx_record *r);

/* Recovery in a damaged chunk: the next thing from the current offset on
 * (8-byte aligned, to the end of the chunk) that has a record's signature
 * and a consistent size.  1 and *r, or 0 when there is none. */
int evtx_file_scan(evtx_file *x, evtx_record *r);

/* Written time of the first record of the first chunk that holds one (for
 * ordering the files of a folder); 0 when there is none. */
uint64_t evtx_file_first_time(const char *path);

#endif
