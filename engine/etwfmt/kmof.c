/* kmof.c - see kmof.h.  Classes so far: Process (Process_V3/V4_TypeGroup1:
 * Start, End, DCStart, DCEnd, Defunct), Image (Image_Load: Load, UnLoad,
 * DCStart, DCEnd, KernelBase), Thread (Thread_V3_TypeGroup1), TcpIp and
 * UdpIp (IPv4 and IPv6 send, receive, connect, accept...), EventTrace
 * extensions, PerfInfo (samples, system calls, DPCs, interrupts), DiskIo,
 * FileIo (names and operations), Registry, hard page faults, process
 * counters, system configuration (CPU, disks, NIC, PnP, IDE,
 * services, power, network, platform, paths, volumes, build) and the
 * sampling interval.  The process table reads the
 * Process fields by these names, as it does from TDH on Windows. */
#include "etwfmt/kmof.h"

#include "etwfmt/kclass.h"

#include <string.h>

static uint16_t ptr_type(unsigned ptr) { return ptr == 4 ? ETWL_IN_HEXINT32 : ETWL_IN_HEXINT64; }

/* A field list: PTR stands for a pointer-sized hex integer, IP6 for a
 * 16-byte IPv6 address. */
#define PTR 0xFFFF
#define IP6 0xFFFE
typedef struct kfield {
    const char *name;
    uint16_t in, out;
} kfield;

static etwl_status build(const kfield *f, size_t n, unsigned ptr, etwl_schema **out)
{
    etwl_schema_builder *b = etwl_sb_new();
    etwl_status st;
    size_t i;
    if (!b) return ETWL_ENOMEM;
    for (i = 0; i < n; i++) {
        if (f[i].in == PTR) {
            etwl_sb_add(b, -1, f[i].name, ptr_type(ptr), 0);
        } else if (f[i].in == IP6) {
            int h = etwl_sb_add(b, -1, f[i].name, ETWL_IN_BINARY, ETWL_OUT_IPV6);
            etwl_sb_length(b, h, 16);
        } else if ((f[i].out & 0xC000) == 0x4000) { /* COUNTED_BY(k): an array counted by field k */
            int h = etwl_sb_add(b, -1, f[i].name, f[i].in, 0);
            etwl_sb_count_ref(b, h, f[f[i].out & 0xff].name);
        } else if (f[i].out & 0x8000) { /* WCHARS(n): a fixed-length UTF-16 string */
            int h = etwl_sb_add(b, -1, f[i].name, ETWL_IN_UNICODESTRING, 0);
            etwl_sb_length(b, h, (uint16_t)(f[i].out & 0x7fff));
        } else {
            etwl_sb_add(b, -1, f[i].name, f[i].in, f[i].out);
        }
    }
    st = etwl_sb_build(b, out, NULL);
    etwl_sb_free(b);
    return st;
}

#define BUILD(fields) build(fields, sizeof fields / sizeof fields[0], ptr, out)

static etwl_status thread(uint8_t version, unsigned ptr, etwl_schema **out)
{
    static const kfield v3[] = {
        {"ProcessId", ETWL_IN_UINT32, 0},
        {"TThreadId", ETWL_IN_UINT32, 0},
        {"StackBase", PTR, 0},
        {"StackLimit", PTR, 0},
        {"UserStackBase", PTR, 0},
        {"UserStackLimit", PTR, 0},
        {"Affinity", PTR, 0},
        {"Win32StartAddr", PTR, 0},
        {"TebBase", PTR, 0},
        {"SubProcessTag", ETWL_IN_UINT32, 0},
        {"BasePriority", ETWL_IN_UINT8, 0},
        {"PagePriority", ETWL_IN_UINT8, 0},
        {"IoPriority", ETWL_IN_UINT8, 0},
        {"ThreadFlags", ETWL_IN_UINT8, 0},
        /* Windows 10 appends the thread's name; older systems end before it */
        {"ThreadName", ETWL_IN_NONNULLTERMINATEDSTRING, 0},
    };
    if (version != 3) return ETWL_ENOTFOUND;
    return BUILD(v3);
}

/* EventTrace: Extension and EndExtension (5, 32), RundownComplete (8) */
static etwl_status eventtrace(uint8_t opcode, unsigned ptr, etwl_schema **out)
{
    static const kfield ext[] = {
        {"GroupMask1", ETWL_IN_HEXINT32, 0},       {"GroupMask2", ETWL_IN_HEXINT32, 0},
        {"GroupMask3", ETWL_IN_HEXINT32, 0},       {"GroupMask4", ETWL_IN_HEXINT32, 0},
        {"GroupMask5", ETWL_IN_HEXINT32, 0},       {"GroupMask6", ETWL_IN_HEXINT32, 0},
        {"GroupMask7", ETWL_IN_HEXINT32, 0},       {"GroupMask8", ETWL_IN_HEXINT32, 0},
        {"KernelEventVersion", ETWL_IN_UINT32, 0},
    };
    (void)ptr;
    if (opcode == 5 || opcode == 32) return build(ext, sizeof ext / sizeof ext[0], ptr, out);
    if (opcode == 8) return build(NULL, 0, ptr, out);
    return ETWL_ENOTFOUND;
}

/* PerfInfo: SampledProfile (46), system calls (51, 52), DPCs and
 * interrupts (66-69), and the sampling interval at the start and end of
 * collection (SampledProfileInterval: 73, 74) */
static etwl_status perfinfo(uint8_t opcode, unsigned ptr, etwl_schema **out)
{
    static const kfield sample[] = {{"InstructionPointer", PTR, 0},
                                    {"ThreadId", ETWL_IN_UINT32, 0},
                                    {"Count", ETWL_IN_UINT16, 0},
                                    {"Reserved", ETWL_IN_UINT16, 0}};
    static const kfield interval[] = {{"Source", ETWL_IN_UINT32, 0},
                                      {"NewInterval", ETWL_IN_UINT32, 0},
                                      {"OldInterval", ETWL_IN_UINT32, 0},
                                      {"SourceName", ETWL_IN_UNICODESTRING, 0}};
    static const kfield sysenter[] = {{"SysCallAddress", PTR, 0}};
    static const kfield sysexit[] = {{"SysCallNtStatus", ETWL_IN_HEXINT32, 0}};
    static const kfield isr[] = {{"InitialTime", ETWL_IN_UINT64, 0},
                                 {"Routine", PTR, 0},
                                 {"ReturnValue", ETWL_IN_UINT8, 0},
                                 {"Vector", ETWL_IN_UINT16, 0},
                                 {"Reserved", ETWL_IN_UINT8, 0}};
    static const kfield dpc[] = {{"InitialTime", ETWL_IN_UINT64, 0}, {"Routine", PTR, 0}};
    switch (opcode) {
    case 46: return BUILD(sample);
    case 51: return BUILD(sysenter); /* SysClEnter */
    case 52: return BUILD(sysexit);  /* SysClExit */
    case 66:
    case 68:
    case 69: return BUILD(dpc); /* ThreadDPC, DPC, TimerDPC */
    case 67: return BUILD(isr); /* ISR */
    case 73:
    case 74: return BUILD(interval);
    default: return ETWL_ENOTFOUND;
    }
}

/* DiskIo v3: Read, Write (10, 11); ReadInit, WriteInit, FlushInit (12, 13, 15); FlushBuffers (14) */
static etwl_status diskio(uint8_t opcode, uint8_t version, unsigned ptr, etwl_schema **out)
{
    static const kfield rw[] = {
        {"DiskNumber", ETWL_IN_UINT32, 0},
        {"IrpFlags", ETWL_IN_HEXINT32, 0},
        {"TransferSize", ETWL_IN_UINT32, 0},
        {"Reserved", ETWL_IN_UINT32, 0},
        {"ByteOffset", ETWL_IN_UINT64, 0},
        {"FileObject", PTR, 0},
        {"Irp", PTR, 0},
        {"HighResResponseTime", ETWL_IN_UINT64, 0},
        {"IssuingThreadId", ETWL_IN_UINT32, 0},
    };
    static const kfield init[] = {{"Irp", PTR, 0}, {"IssuingThreadId", ETWL_IN_UINT32, 0}};
    static const kfield flush[] = {{"DiskNumber", ETWL_IN_UINT32, 0},
                                   {"IrpFlags", ETWL_IN_HEXINT32, 0},
                                   {"HighResResponseTime", ETWL_IN_UINT64, 0},
                                   {"Irp", PTR, 0},
                                   {"IssuingThreadId", ETWL_IN_UINT32, 0}};
    if (version != 3) return ETWL_ENOTFOUND;
    switch (opcode) {
    case 10:
    case 11: return BUILD(rw);
    case 12:
    case 13:
    case 15: return BUILD(init);
    case 14: return BUILD(flush);
    default: return ETWL_ENOTFOUND;
    }
}

/* FileIo: names (0, 32, 35, 36: FileIo_Name) and operations (64-77).  The
 * operations are FileIo_V2 as documented; Windows 8's v3 moves the thread
 * id after the file key and makes it 32 bits. */
#define FILE_NAME_OPS(op) ((op) == 0 || (op) == 32 || (op) == 35 || (op) == 36)
static etwl_status fileio(uint8_t opcode, uint8_t version, unsigned ptr, etwl_schema **out)
{
    static const kfield name[] = {{"FileObject", PTR, 0}, {"FileName", ETWL_IN_UNICODESTRING, 0}};
    static const kfield create2[] = {{"IrpPtr", PTR, 0},
                                     {"TTID", PTR, 0},
                                     {"FileObject", PTR, 0},
                                     {"CreateOptions", ETWL_IN_HEXINT32, 0},
                                     {"FileAttributes", ETWL_IN_HEXINT32, 0},
                                     {"ShareAccess", ETWL_IN_HEXINT32, 0},
                                     {"OpenPath", ETWL_IN_UNICODESTRING, 0}};
    static const kfield create3[] = {{"IrpPtr", PTR, 0},
                                     {"FileObject", PTR, 0},
                                     {"TTID", ETWL_IN_UINT32, 0},
                                     {"CreateOptions", ETWL_IN_HEXINT32, 0},
                                     {"FileAttributes", ETWL_IN_HEXINT32, 0},
                                     {"ShareAccess", ETWL_IN_HEXINT32, 0},
                                     {"OpenPath", ETWL_IN_UNICODESTRING, 0}};
    static const kfield simple2[] = {{"IrpPtr", PTR, 0}, {"TTID", PTR, 0}, {"FileObject", PTR, 0}, {"FileKey", PTR, 0}};
    static const kfield simple3[] = {
        {"IrpPtr", PTR, 0}, {"FileObject", PTR, 0}, {"FileKey", PTR, 0}, {"TTID", ETWL_IN_UINT32, 0}};
    static const kfield rw2[] = {{"Offset", ETWL_IN_UINT64, 0},   {"IrpPtr", PTR, 0},  {"TTID", PTR, 0},
                                 {"FileObject", PTR, 0},          {"FileKey", PTR, 0}, {"IoSize", ETWL_IN_UINT32, 0},
                                 {"IoFlags", ETWL_IN_HEXINT32, 0}};
    static const kfield rw3[] = {{"Offset", ETWL_IN_UINT64, 0},   {"IrpPtr", PTR, 0},
                                 {"FileObject", PTR, 0},          {"FileKey", PTR, 0},
                                 {"TTID", ETWL_IN_UINT32, 0},     {"IoSize", ETWL_IN_UINT32, 0},
                                 {"IoFlags", ETWL_IN_HEXINT32, 0}};
    static const kfield info2[] = {{"IrpPtr", PTR, 0},  {"TTID", PTR, 0},      {"FileObject", PTR, 0},
                                   {"FileKey", PTR, 0}, {"ExtraInfo", PTR, 0}, {"InfoClass", ETWL_IN_UINT32, 0}};
    static const kfield info3[] = {{"IrpPtr", PTR, 0},          {"FileObject", PTR, 0},
                                   {"FileKey", PTR, 0},         {"ExtraInfo", PTR, 0},
                                   {"TTID", ETWL_IN_UINT32, 0}, {"InfoClass", ETWL_IN_UINT32, 0}};
    static const kfield dir2[] = {{"IrpPtr", PTR, 0},
                                  {"TTID", PTR, 0},
                                  {"FileObject", PTR, 0},
                                  {"FileKey", PTR, 0},
                                  {"Length", ETWL_IN_UINT32, 0},
                                  {"InfoClass", ETWL_IN_UINT32, 0},
                                  {"FileIndex", ETWL_IN_UINT32, 0},
                                  {"FileName", ETWL_IN_UNICODESTRING, 0}};
    static const kfield dir3[] = {{"IrpPtr", PTR, 0},
                                  {"FileObject", PTR, 0},
                                  {"FileKey", PTR, 0},
                                  {"TTID", ETWL_IN_UINT32, 0},
                                  {"Length", ETWL_IN_UINT32, 0},
                                  {"InfoClass", ETWL_IN_UINT32, 0},
                                  {"FileIndex", ETWL_IN_UINT32, 0},
                                  {"FileName", ETWL_IN_UNICODESTRING, 0}};
    static const kfield opend[] = {{"IrpPtr", PTR, 0}, {"ExtraInfo", PTR, 0}, {"NtStatus", ETWL_IN_HEXINT32, 0}};
    if (FILE_NAME_OPS(opcode)) return BUILD(name);
    if (version != 2 && version != 3) return ETWL_ENOTFOUND;
    switch (opcode) {
    case 64: return version == 2 ? BUILD(create2) : BUILD(create3); /* Create */
    case 65:
    case 66:
    case 73: return version == 2 ? BUILD(simple2) : BUILD(simple3); /* Cleanup, Close, Flush */
    case 67:
    case 68: return version == 2 ? BUILD(rw2) : BUILD(rw3); /* Read, Write */
    case 69:
    case 70:
    case 71:
    case 74:
    case 75: /* SetInfo ... FSControl */ return version == 2 ? BUILD(info2) : BUILD(info3);
    case 72:
    case 77: return version == 2 ? BUILD(dir2) : BUILD(dir3); /* DirEnum, DirNotify */
    case 76: return BUILD(opend);                             /* OperationEnd */
    default: return ETWL_ENOTFOUND;
    }
}

/* Registry_TypeGroup1: Create ... Close (10-27).  v1 (Windows XP) put the
 * status first, pointer-sized, and the elapsed time after the handle. */
static etwl_status registry(uint8_t opcode, uint8_t version, unsigned ptr, etwl_schema **out)
{
    static const kfield v2[] = {{"InitialTime", ETWL_IN_INT64, 0},
                                {"Status", ETWL_IN_HEXINT32, 0},
                                {"Index", ETWL_IN_UINT32, 0},
                                {"KeyHandle", PTR, 0},
                                {"KeyName", ETWL_IN_UNICODESTRING, 0}};
    static const kfield v1[] = {{"Status", PTR, 0},
                                {"KeyHandle", PTR, 0},
                                {"ElapsedTime", ETWL_IN_INT64, 0},
                                {"Index", ETWL_IN_UINT32, 0},
                                {"KeyName", ETWL_IN_UNICODESTRING, 0}};
    if (opcode < 10 || opcode > 27) return ETWL_ENOTFOUND;
    if (version == 2) return BUILD(v2);
    if (version == 1 && opcode <= 22) return BUILD(v1);
    return ETWL_ENOTFOUND;
}

/* PageFault: HardFault (32) */
static etwl_status pagefault(uint8_t opcode, unsigned ptr, etwl_schema **out)
{
    static const kfield hard[] = {{"InitialTime", ETWL_IN_UINT64, 0}, {"ReadOffset", ETWL_IN_UINT64, 0},
                                  {"VirtualAddress", PTR, 0},         {"FileObject", PTR, 0},
                                  {"TThreadId", ETWL_IN_UINT32, 0},   {"ByteCount", ETWL_IN_UINT32, 0}};
    return opcode == 32 ? BUILD(hard) : ETWL_ENOTFOUND;
}

/* Process_V2_TypeGroup2: PerfCtr and PerfCtrRundown (32, 33); Terminate (11) */
static etwl_status process_other(uint8_t opcode, unsigned ptr, etwl_schema **out)
{
    static const kfield ctr[] = {
        {"ProcessId", ETWL_IN_UINT32, 0},
        {"PageFaultCount", ETWL_IN_UINT32, 0},
        {"HandleCount", ETWL_IN_UINT32, 0},
        {"Reserved", ETWL_IN_UINT32, 0},
        {"PeakVirtualSize", PTR, 0},
        {"PeakWorkingSetSize", PTR, 0},
        {"PeakPagefileUsage", PTR, 0},
        {"QuotaPeakPagedPoolUsage", PTR, 0},
        {"QuotaPeakNonPagedPoolUsage", PTR, 0},
        {"VirtualSize", PTR, 0},
        {"WorkingSetSize", PTR, 0},
        {"PagefileUsage", PTR, 0},
        {"QuotaPagedPoolUsage", PTR, 0},
        {"QuotaNonPagedPoolUsage", PTR, 0},
        {"PrivatePageCount", PTR, 0},
    };
    static const kfield term[] = {{"ProcessId", ETWL_IN_UINT32, 0}};
    if (opcode == 32 || opcode == 33) return BUILD(ctr);
    if (opcode == 11) return BUILD(term);
    return ETWL_ENOTFOUND;
}

#define WCHARS(n) ETWL_IN_UNICODESTRING, (uint16_t)(0x8000 | (n)) /* a fixed wchar[n] array */
#define COUNTED_BY(k) (uint16_t)(0x4000 | (k))                    /* an array whose count is field k of the list */

/* SystemConfig: CPU (10, v3), PhyDisk (11), LogDisk (12), NIC (13),
 * Services (15, v3), Power (16), Network (17), PnP (22, v4), IDEChannel
 * (23), Platform (25) */
static etwl_status sysconfig(uint8_t opcode, uint8_t version, unsigned ptr, etwl_schema **out)
{
    static const kfield cpu[] = {
        {"MHz", ETWL_IN_UINT32, 0},
        {"NumberOfProcessors", ETWL_IN_UINT32, 0},
        {"MemSize", ETWL_IN_UINT32, 0},
        {"PageSize", ETWL_IN_UINT32, 0},
        {"AllocationGranularity", ETWL_IN_UINT32, 0},
        {"ComputerName", WCHARS(256)},
        {"DomainName", WCHARS(134)},
        {"HyperThreadingFlag", PTR, 0},
        {"HighestUserAddress", PTR, 0},
        {"ProcessorArchitecture", ETWL_IN_UINT16, 0},
        {"ProcessorLevel", ETWL_IN_UINT16, 0},
        {"ProcessorRevision", ETWL_IN_UINT16, 0},
        {"PaeEnabled", ETWL_IN_UINT8, 0},
        {"NxEnabled", ETWL_IN_UINT8, 0},
        {"MemorySpeed", ETWL_IN_UINT32, 0},
    };
    static const kfield nic[] = {
        {"PhysicalAddr", ETWL_IN_HEXINT64, 0},
        {"PhysicalAddrLen", ETWL_IN_UINT32, 0},
        {"Ipv4Index", ETWL_IN_UINT32, 0},
        {"Ipv6Index", ETWL_IN_UINT32, 0},
        {"NICDescription", ETWL_IN_UNICODESTRING, 0},
        {"IpAddresses", ETWL_IN_UNICODESTRING, 0},
        {"DnsServerAddresses", ETWL_IN_UNICODESTRING, 0},
    };
    static const kfield pnp[] = {
        /* v4: the device's class and filter counts lead */
        {"ClassGuid", ETWL_IN_GUID, 0},
        {"UpperFilterCount", ETWL_IN_UINT32, 0},
        {"LowerFilterCount", ETWL_IN_UINT32, 0},
        {"DeviceID", ETWL_IN_UNICODESTRING, 0},
        {"DeviceDescription", ETWL_IN_UNICODESTRING, 0},
        {"FriendlyName", ETWL_IN_UNICODESTRING, 0},
        {"PdoName", ETWL_IN_UNICODESTRING, 0},
        {"ServiceName", ETWL_IN_UNICODESTRING, 0},
        {"UpperFilters", ETWL_IN_UNICODESTRING, COUNTED_BY(1)},
        {"LowerFilters", ETWL_IN_UNICODESTRING, COUNTED_BY(2)},
    };
    static const kfield ide[] = {
        {"TargetId", ETWL_IN_UINT32, 0},
        {"DeviceType", ETWL_IN_UINT32, 0},
        {"DeviceTimingMode", ETWL_IN_UINT32, 0},
        {"LocationInformationLen", ETWL_IN_UINT32, 0},
        {"LocationInformation", ETWL_IN_UNICODESTRING, 0},
    };
    static const kfield platform[] = {
        {"SystemManufacturer", ETWL_IN_UNICODESTRING, 0},
        {"SystemProductName", ETWL_IN_UNICODESTRING, 0},
        {"BiosDate", ETWL_IN_UNICODESTRING, 0},
        {"BiosVersion", ETWL_IN_UNICODESTRING, 0},
    };
    static const kfield phydisk[] = {
        {"DiskNumber", ETWL_IN_UINT32, 0},
        {"BytesPerSector", ETWL_IN_UINT32, 0},
        {"SectorsPerTrack", ETWL_IN_UINT32, 0},
        {"TracksPerCylinder", ETWL_IN_UINT32, 0},
        {"Cylinders", ETWL_IN_UINT64, 0},
        {"SCSIPort", ETWL_IN_UINT32, 0},
        {"SCSIPath", ETWL_IN_UINT32, 0},
        {"SCSITarget", ETWL_IN_UINT32, 0},
        {"SCSILun", ETWL_IN_UINT32, 0},
        {"Manufacturer", WCHARS(256)},
        {"PartitionCount", ETWL_IN_UINT32, 0},
        {"WriteCacheEnabled", ETWL_IN_UINT8, 0},
        {"Pad", ETWL_IN_UINT8, 0},
        {"BootDriveLetter", WCHARS(3)},
        {"Spare", WCHARS(2)},
    };
    static const kfield logdisk[] = {
        {"StartOffset", ETWL_IN_UINT64, 0},
        {"PartitionSize", ETWL_IN_UINT64, 0},
        {"DiskNumber", ETWL_IN_UINT32, 0},
        {"Size", ETWL_IN_UINT32, 0},
        {"DriveType", ETWL_IN_UINT32, 0},
        {"DriveLetterString", WCHARS(4)},
        {"Pad1", ETWL_IN_UINT32, 0},
        {"PartitionNumber", ETWL_IN_UINT32, 0},
        {"SectorsPerCluster", ETWL_IN_UINT32, 0},
        {"BytesPerSector", ETWL_IN_UINT32, 0},
        {"Pad2", ETWL_IN_UINT32, 0},
        {"NumberOfFreeClusters", ETWL_IN_UINT64, 0},
        {"TotalNumberOfClusters", ETWL_IN_UINT64, 0},
        {"FileSystem", WCHARS(16)},
        {"VolumeExt", ETWL_IN_UINT32, 0},
        {"Pad3", ETWL_IN_UINT32, 0},
    };
    static const kfield services[] = {
        /* v3: the service's load order group and svchost group follow */
        {"ProcessId", ETWL_IN_UINT32, 0},
        {"ServiceState", ETWL_IN_UINT32, 0},
        {"SubProcessTag", ETWL_IN_UINT32, 0},
        {"ServiceName", ETWL_IN_UNICODESTRING, 0},
        {"DisplayName", ETWL_IN_UNICODESTRING, 0},
        {"ProcessName", ETWL_IN_UNICODESTRING, 0},
        {"LoadOrderGroup", ETWL_IN_UNICODESTRING, 0},
        {"SvchostGroup", ETWL_IN_UNICODESTRING, 0},
    };
    static const kfield power[] = {{"S1", ETWL_IN_UINT8, 0},   {"S2", ETWL_IN_UINT8, 0},  {"S3", ETWL_IN_UINT8, 0},
                                   {"S4", ETWL_IN_UINT8, 0},   {"S5", ETWL_IN_UINT8, 0},  {"Pad1", ETWL_IN_UINT8, 0},
                                   {"Pad2", ETWL_IN_UINT8, 0}, {"Pad3", ETWL_IN_UINT8, 0}};
    static const kfield network[] = {{"TcbTablePartitions", ETWL_IN_UINT32, 0},
                                     {"MaxHashTableSize", ETWL_IN_UINT32, 0},
                                     {"MaxUserPort", ETWL_IN_UINT32, 0},
                                     {"TcpTimedWaitDelay", ETWL_IN_UINT32, 0}};
    switch (opcode) {
    case 10: return version == 3 ? BUILD(cpu) : ETWL_ENOTFOUND;
    case 11: return BUILD(phydisk);
    case 12: return BUILD(logdisk);
    case 15: return version == 3 ? BUILD(services) : ETWL_ENOTFOUND;
    case 16: return BUILD(power);
    case 17: return BUILD(network);
    case 13: return BUILD(nic);
    case 22: return version == 4 ? BUILD(pnp) : ETWL_ENOTFOUND;
    case 23: return BUILD(ide);
    case 25: return BUILD(platform);
    default: return ETWL_ENOTFOUND;
    }
}

/* SysConfigEx: BuildInfo (32), SystemPaths (33), UnknownVolume (34),
 * VolumeMapping (35) */
static etwl_status sysconfigex(uint8_t opcode, unsigned ptr, etwl_schema **out)
{
    static const kfield buildinfo[] = {{"InstallDate", ETWL_IN_FILETIME, 0},
                                       {"BuildLab", ETWL_IN_UNICODESTRING, 0},
                                       {"ProductName", ETWL_IN_UNICODESTRING, 0}};
    static const kfield paths[] = {{"SystemDirectory", ETWL_IN_UNICODESTRING, 0},
                                   {"SystemWindowsDirectory", ETWL_IN_UNICODESTRING, 0}};
    static const kfield unknown[] = {{"Value", ETWL_IN_UNICODESTRING, 0}};
    static const kfield mapping[] = {{"NtPath", ETWL_IN_UNICODESTRING, 0}, {"DosPath", ETWL_IN_UNICODESTRING, 0}};
    switch (opcode) {
    case 32: return BUILD(buildinfo);
    case 33: return BUILD(paths);
    case 34: return BUILD(unknown);
    case 35: return BUILD(mapping);
    default: return ETWL_ENOTFOUND;
    }
}

/* TcpIp and UdpIp: the address part of every send/receive/connect event */
#define ADDR4                                                                                                          \
    {"PID", ETWL_IN_UINT32, 0}, {"size", ETWL_IN_UINT32, 0}, {"daddr", ETWL_IN_UINT32, ETWL_OUT_IPV4},                 \
        {"saddr", ETWL_IN_UINT32, ETWL_OUT_IPV4}, {"dport", ETWL_IN_UINT16, ETWL_OUT_PORT},                            \
    {                                                                                                                  \
        "sport", ETWL_IN_UINT16, ETWL_OUT_PORT                                                                         \
    }
#define ADDR6                                                                                                          \
    {"PID", ETWL_IN_UINT32, 0}, {"size", ETWL_IN_UINT32, 0}, {"daddr", IP6, 0}, {"saddr", IP6, 0},                     \
        {"dport", ETWL_IN_UINT16, ETWL_OUT_PORT},                                                                      \
    {                                                                                                                  \
        "sport", ETWL_IN_UINT16, ETWL_OUT_PORT                                                                         \
    }
#define TIMES                                                                                                          \
    {"startime", ETWL_IN_UINT32, 0}, { "endtime", ETWL_IN_UINT32, 0 }
#define SEQ                                                                                                            \
    {"seqnum", ETWL_IN_UINT32, 0}, { "connid", PTR, 0 }
#define OPTS                                                                                                           \
    {"mss", ETWL_IN_UINT16, 0}, {"sackopt", ETWL_IN_UINT16, 0}, {"tsopt", ETWL_IN_UINT16, 0},                          \
        {"wsopt", ETWL_IN_UINT16, 0}, {"rcvwin", ETWL_IN_UINT32, 0}, {"rcvwinscale", ETWL_IN_INT16, 0},                \
    {                                                                                                                  \
        "sndwinscale", ETWL_IN_INT16, 0                                                                                \
    }

static etwl_status tcpip(uint8_t opcode, unsigned ptr, etwl_schema **out)
{
    static const kfield send4[] = {ADDR4, TIMES, SEQ}, group1[] = {ADDR4, SEQ}, group2[] = {ADDR4, OPTS, SEQ};
    static const kfield send6[] = {ADDR6, TIMES, SEQ}, group3[] = {ADDR6, SEQ}, group4[] = {ADDR6, OPTS, SEQ};
    static const kfield fail[] = {{"Proto", ETWL_IN_UINT16, 0}, {"FailureCode", ETWL_IN_UINT16, 0}};
    switch (opcode) {
    case 10: return BUILD(send4); /* Send */
    case 11:
    case 13:
    case 14:
    case 16:
    case 18: return BUILD(group1); /* Recv, Disconnect, Retransmit... */
    case 12:
    case 15: return BUILD(group2); /* Connect, Accept */
    case 17: return BUILD(fail);
    case 26: return BUILD(send6);
    case 27:
    case 29:
    case 30:
    case 32:
    case 34: return BUILD(group3);
    case 28:
    case 31: return BUILD(group4);
    default: return ETWL_ENOTFOUND;
    }
}

static etwl_status udpip(uint8_t opcode, unsigned ptr, etwl_schema **out)
{
    static const kfield group1[] = {ADDR4, SEQ}, group2[] = {ADDR6, SEQ};
    static const kfield fail[] = {{"Proto", ETWL_IN_UINT16, 0}, {"FailureCode", ETWL_IN_UINT16, 0}};
    switch (opcode) {
    case 10:
    case 11: return BUILD(group1); /* Send, Recv */
    case 17: return BUILD(fail);
    case 26:
    case 27: return BUILD(group2);
    default: return ETWL_ENOTFOUND;
    }
}

static etwl_status process(uint8_t version, unsigned ptr, etwl_schema **out)
{
#define PROCESS_HEAD                                                                                                   \
    {"UniqueProcessKey", PTR, 0}, {"ProcessId", ETWL_IN_UINT32, 0}, {"ParentId", ETWL_IN_UINT32, 0},                   \
        {"SessionId", ETWL_IN_UINT32, 0}, {"ExitStatus", ETWL_IN_INT32, 0},                                            \
    {                                                                                                                  \
        "DirectoryTableBase", PTR, 0                                                                                   \
    }
#define PROCESS_NAMES                                                                                                  \
    {"UserSID", ETWL_IN_WBEMSID, 0}, {"ImageFileName", ETWL_IN_ANSISTRING, 0},                                         \
    {                                                                                                                  \
        "CommandLine", ETWL_IN_UNICODESTRING, 0                                                                        \
    }
    static const kfield v3[] = {PROCESS_HEAD, PROCESS_NAMES};
    static const kfield v4[] = {PROCESS_HEAD,
                                {"Flags", ETWL_IN_UINT32, 0},
                                PROCESS_NAMES,
                                {"PackageFullName", ETWL_IN_UNICODESTRING, 0},
                                {"ApplicationId", ETWL_IN_UNICODESTRING, 0}};
    if (version == 3) return BUILD(v3);
    /* v5 (Windows 10) adds 8 bytes after ApplicationId that no published
     * MOF describes: decoded as Reserved, so the rest stays readable */
    static const kfield v5[] = {PROCESS_HEAD,
                                {"Flags", ETWL_IN_UINT32, 0},
                                PROCESS_NAMES,
                                {"PackageFullName", ETWL_IN_UNICODESTRING, 0},
                                {"ApplicationId", ETWL_IN_UNICODESTRING, 0},
                                {"Reserved", ETWL_IN_UINT64, 0}};
    if (version == 4) return BUILD(v4);
    if (version == 5) return BUILD(v5);
    return ETWL_ENOTFOUND;
}

static etwl_status image(uint8_t opcode, uint8_t version, unsigned ptr, etwl_schema **out)
{
    static const kfield v2[] = {
        {"ImageBase", PTR, 0},
        {"ImageSize", PTR, 0},
        {"ProcessId", ETWL_IN_UINT32, 0},
        {"ImageCheckSum", ETWL_IN_UINT32, 0},
        {"TimeDateStamp", ETWL_IN_UINT32, 0},
        {"Reserved0", ETWL_IN_UINT32, 0}, /* v3: SignatureLevel, SignatureType, 16 bits reserved */
        {"DefaultBase", PTR, 0},
        {"Reserved1", ETWL_IN_UINT32, 0},
        {"Reserved2", ETWL_IN_UINT32, 0},
        {"Reserved3", ETWL_IN_UINT32, 0},
        {"Reserved4", ETWL_IN_UINT32, 0},
        {"FileName", ETWL_IN_UNICODESTRING, 0},
    };
    static const kfield base[] = {{"ImageBase", PTR, 0}}; /* KernelBase (33), HypercallPage (34) */
    if (version < 2 || version > 3) return ETWL_ENOTFOUND;
    return opcode == 33 || opcode == 34 ? BUILD(base) : BUILD(v2);
}

/* KernelTraceControl ImageID (written by xperf, WPR and PerfView after each
 * image rundown or load): ImageID (0), None (32), DbgID_RSDS and
 * DbgID_ILRSDS (36, 37: the PDB's GUID, age and name), FileVersion (64) */
static etwl_status imageid(uint8_t opcode, unsigned ptr, etwl_schema **out)
{
    static const kfield id[] = {{"ImageBase", PTR, 0},
                                {"ImageSize", PTR, 0},
                                {"ProcessId", ETWL_IN_UINT32, 0},
                                {"TimeDateStamp", ETWL_IN_UINT32, 0},
                                {"OriginalFileName", ETWL_IN_UNICODESTRING, 0}};
    static const kfield none[] = {{"ImageBase", PTR, 0}, {"ProcessId", ETWL_IN_UINT32, 0}};
    static const kfield rsds[] = {{"ImageBase", PTR, 0},
                                  {"ProcessId", ETWL_IN_UINT32, 0},
                                  {"GuidSig", ETWL_IN_GUID, 0},
                                  {"Age", ETWL_IN_UINT32, 0},
                                  {"PdbFileName", ETWL_IN_ANSISTRING, 0}};
    static const kfield version[] = {
        {"ImageSize", ETWL_IN_UINT32, 0},           {"TimeDateStamp", ETWL_IN_UINT32, 0},
        {"OrigFileName", ETWL_IN_UNICODESTRING, 0}, {"FileDescription", ETWL_IN_UNICODESTRING, 0},
        {"FileVersion", ETWL_IN_UNICODESTRING, 0},  {"BinFileVersion", ETWL_IN_UNICODESTRING, 0},
        {"VerLanguage", ETWL_IN_UNICODESTRING, 0},  {"ProductName", ETWL_IN_UNICODESTRING, 0},
        {"CompanyName", ETWL_IN_UNICODESTRING, 0},  {"ProductVersion", ETWL_IN_UNICODESTRING, 0},
        {"FileId", ETWL_IN_UNICODESTRING, 0},       {"ProgramId", ETWL_IN_UNICODESTRING, 0},
    };
    switch (opcode) {
    case 0: return BUILD(id);
    case 32: return BUILD(none);
    case 36:
    case 37: return BUILD(rsds);
    case 64: return BUILD(version);
    default: return ETWL_ENOTFOUND;
    }
}

etwl_status etwl_kmof_schema(const etwl_guid *cls, uint8_t opcode, uint8_t version, unsigned ptrsize, etwl_schema **out)
{
    *out = NULL;
    switch (etwl_kclass_of_guid(cls)) {
    case ETWL_KC_PROCESS:
        if (version == 2) return process_other(opcode, ptrsize, out);
        if (opcode == 1 || opcode == 2 || opcode == 3 || opcode == 4 || opcode == 39)
            return process(version, ptrsize, out);
        return ETWL_ENOTFOUND;
    case ETWL_KC_IMAGE:
        if (opcode == 2 || opcode == 3 || opcode == 4 || opcode == 10 || opcode == 33 || opcode == 34)
            return image(opcode, version, ptrsize, out);
        return ETWL_ENOTFOUND;
    case ETWL_KC_THREAD: return opcode >= 1 && opcode <= 4 ? thread(version, ptrsize, out) : ETWL_ENOTFOUND;
    case ETWL_KC_TCPIP: return version >= 2 ? tcpip(opcode, ptrsize, out) : ETWL_ENOTFOUND;
    case ETWL_KC_UDPIP: return version >= 2 ? udpip(opcode, ptrsize, out) : ETWL_ENOTFOUND;
    case ETWL_KC_EVENTTRACE: return opcode != 0 ? eventtrace(opcode, ptrsize, out) : ETWL_ENOTFOUND;
    case ETWL_KC_PERFINFO: return perfinfo(opcode, ptrsize, out);
    case ETWL_KC_DISKIO: return diskio(opcode, version, ptrsize, out);
    case ETWL_KC_FILEIO: return fileio(opcode, version, ptrsize, out);
    case ETWL_KC_REGISTRY: return registry(opcode, version, ptrsize, out);
    case ETWL_KC_PAGEFAULT: return pagefault(opcode, ptrsize, out);
    case ETWL_KC_SYSCONFIG: return sysconfig(opcode, version, ptrsize, out);
    case ETWL_KC_SYSCONFIGEX: return sysconfigex(opcode, ptrsize, out);
    case ETWL_KC_IMAGEID: return imageid(opcode, ptrsize, out);
    default: return ETWL_ENOTFOUND;
    }
}
