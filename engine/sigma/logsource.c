/* logsource.c - the normalisation layer: which events carry a Sigma log
 * source, and what its fields are called there.
 *
 * The table is written for etwlua from the public facts of each log: the
 * Sysmon event ids, the PowerShell and Security ids, the channel each
 * Windows `service:` names (the channels SigmaHQ's Windows pipeline uses),
 * the Security 4688 field names as Hayabusa and Chainsaw map them onto
 * Sysmon's, and the fields of etwlua's own Linux process provider. */
#include <string.h>
#include <strings.h>

#include "sigma/logsource.h"

#define SYSMON "Microsoft-Windows-Sysmon"

static const sg_map m_4688[] = {
    {"Image", "NewProcessName", 0},   {"ParentImage", "ParentProcessName", 0},
    {"User", "SubjectUserName", 0},   {"IntegrityLevel", "MandatoryLabel", 1},
    {"ProcessId", "NewProcessId", 0}, {"ParentProcessId", "ProcessId", 0},
    {"LogonId", "SubjectLogonId", 0}, {NULL, NULL, 0},
};

static const sg_map m_kproc[] = {
    {"Image", "ImageName", 0},
    {"ProcessId", "ProcessID", 0},
    {"ParentProcessId", "ParentProcessID", 0},
    {NULL, NULL, 0},
};

/* etwlua's Linux process provider (engine/sources/tracefs/procprov.c) */
static const sg_map m_linux[] = {
    {"Image", "image", 0},
    {"CommandLine", "cmdline", 0},
    {"ParentImage", "parent_image", 0},
    {"User", "user", 0},
    {"CurrentDirectory", "cwd", 0},
    {"ProcessId", "pid", 0},
    {"ParentProcessId", "ppid", 0},
    {NULL, NULL, 0},
};
static const char *const f_linux[] = {"Image",     "CommandLine",     "ParentImage", "User", "CurrentDirectory",
                                      "ProcessId", "ParentProcessId", NULL};

#define SRC_P(nm, prov, ...)                                                                                           \
    {                                                                                                                  \
        nm, prov, NULL, {__VA_ARGS__}, sizeof((uint16_t[]){__VA_ARGS__}) / 2, NULL, NULL                               \
    }
#define SRC_C(nm, chan)                                                                                                \
    {                                                                                                                  \
        nm, NULL, chan, {0}, 0, NULL, NULL                                                                             \
    }

static const sg_source s_pc[] = {
    SRC_P("Sysmon 1", SYSMON, 1),
    {"Security 4688", "Microsoft-Windows-Security-Auditing", NULL, {4688}, 1, m_4688, NULL},
    {"Kernel-Process 1", "Microsoft-Windows-Kernel-Process", NULL, {1}, 1, m_kproc, NULL},
};
static const sg_source s_linux_pc[] = {{"process 1 (tracefs)", "process", NULL, {1}, 1, m_linux, f_linux}};

typedef struct cat {
    const char *category;
    sg_source src;
} cat;

static const cat sysmon_cats[] = {
    {"file_change", SRC_P("Sysmon 2", SYSMON, 2)},
    {"network_connection", SRC_P("Sysmon 3", SYSMON, 3)},
    {"sysmon_status", SRC_P("Sysmon 4/16", SYSMON, 4, 16)},
    {"process_termination", SRC_P("Sysmon 5", SYSMON, 5)},
    {"driver_load", SRC_P("Sysmon 6", SYSMON, 6)},
    {"image_load", SRC_P("Sysmon 7", SYSMON, 7)},
    {"create_remote_thread", SRC_P("Sysmon 8", SYSMON, 8)},
    {"raw_access_thread", SRC_P("Sysmon 9", SYSMON, 9)},
    {"process_access", SRC_P("Sysmon 10", SYSMON, 10)},
    {"file_event", SRC_P("Sysmon 11", SYSMON, 11)},
    {"registry_add", SRC_P("Sysmon 12", SYSMON, 12)},
    {"registry_delete", SRC_P("Sysmon 12", SYSMON, 12)},
    {"registry_set", SRC_P("Sysmon 13", SYSMON, 13)},
    {"registry_rename", SRC_P("Sysmon 14", SYSMON, 14)},
    {"registry_event", SRC_P("Sysmon 12/13/14", SYSMON, 12, 13, 14)},
    {"create_stream_hash", SRC_P("Sysmon 15", SYSMON, 15)},
    {"pipe_created", SRC_P("Sysmon 17/18", SYSMON, 17, 18)},
    {"wmi_event", SRC_P("Sysmon 19/20/21", SYSMON, 19, 20, 21)},
    {"dns_query", SRC_P("Sysmon 22", SYSMON, 22)},
    {"file_delete", SRC_P("Sysmon 23/26", SYSMON, 23, 26)},
    {"clipboard_capture", SRC_P("Sysmon 24", SYSMON, 24)},
    {"process_tampering", SRC_P("Sysmon 25", SYSMON, 25)},
    {"file_block_executable", SRC_P("Sysmon 27", SYSMON, 27)},
    {"file_block_shredding", SRC_P("Sysmon 28", SYSMON, 28)},
    {"file_executable_detected", SRC_P("Sysmon 29", SYSMON, 29)},
    {"sysmon_error", SRC_P("Sysmon 255", SYSMON, 255)},
    {"ps_script", SRC_P("PowerShell 4104", "Microsoft-Windows-PowerShell", 4104)},
    {"ps_module", SRC_P("PowerShell 4103", "Microsoft-Windows-PowerShell", 4103)},
    {"ps_classic_start", {"Windows PowerShell 400", NULL, "Windows PowerShell", {400}, 1, NULL, NULL}},
    {"ps_classic_provider_start", {"Windows PowerShell 600", NULL, "Windows PowerShell", {600}, 1, NULL, NULL}},
    {"ps_classic_script", {"Windows PowerShell 800", NULL, "Windows PowerShell", {800}, 1, NULL, NULL}},
};

/* Windows `service:` -> the channel that carries it */
static const cat services[] = {
    {"security", SRC_C("Security", "Security")},
    {"system", SRC_C("System", "System")},
    {"application", SRC_C("Application", "Application")},
    {"sysmon", SRC_C("Sysmon", SYSMON "/Operational")},
    {"powershell", SRC_C("PowerShell", "Microsoft-Windows-PowerShell/Operational")},
    {"powershell-classic", SRC_C("Windows PowerShell", "Windows PowerShell")},
    {"windefend", SRC_C("Defender", "Microsoft-Windows-Windows Defender/Operational")},
    {"taskscheduler", SRC_C("TaskScheduler", "Microsoft-Windows-TaskScheduler/Operational")},
    {"codeintegrity-operational", SRC_C("CodeIntegrity", "Microsoft-Windows-CodeIntegrity/Operational")},
    {"appxdeployment-server", SRC_C("AppXDeploymentServer", "Microsoft-Windows-AppXDeploymentServer/Operational")},
    {"appxpackaging-om", SRC_C("AppxPackaging", "Microsoft-Windows-AppxPackaging/Operational")},
    {"firewall-as", SRC_C("Firewall", "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall")},
    {"bits-client", SRC_C("Bits-Client", "Microsoft-Windows-Bits-Client/Operational")},
    {"msexchange-management", SRC_C("MSExchange Management", "MSExchange Management")},
    {"dns-client", SRC_C("DNS Client", "Microsoft-Windows-DNS Client Events/Operational")},
    {"dns-server", SRC_C("DNS Server", "DNS Server")},
    {"iis-configuration", SRC_C("IIS-Configuration", "Microsoft-IIS-Configuration/Operational")},
    {"ntlm", SRC_C("NTLM", "Microsoft-Windows-NTLM/Operational")},
    {"wmi", SRC_C("WMI-Activity", "Microsoft-Windows-WMI-Activity/Operational")},
    {"security-mitigations", SRC_C("Security-Mitigations", "Microsoft-Windows-Security-Mitigations/KernelMode")},
    {"security-mitigations", SRC_C("Security-Mitigations", "Microsoft-Windows-Security-Mitigations/UserMode")},
    {"applocker", SRC_C("AppLocker", "Microsoft-Windows-AppLocker/EXE and DLL")},
    {"applocker", SRC_C("AppLocker", "Microsoft-Windows-AppLocker/MSI and Script")},
    {"applocker", SRC_C("AppLocker", "Microsoft-Windows-AppLocker/Packaged app-Deployment")},
    {"applocker", SRC_C("AppLocker", "Microsoft-Windows-AppLocker/Packaged app-Execution")},
    {"microsoft-servicebus-client", SRC_C("ServiceBus-Client", "Microsoft-ServiceBus-Client")},
    {"terminalservices-localsessionmanager",
     SRC_C("TerminalServices-LSM", "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational")},
    {"shell-core", SRC_C("Shell-Core", "Microsoft-Windows-Shell-Core/Operational")},
    {"certificateservicesclient-lifecycle-system",
     SRC_C("CertificateServicesClient", "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational")},
    {"driver-framework", SRC_C("DriverFrameworks", "Microsoft-Windows-DriverFrameworks-UserMode/Operational")},
    {"ldap", SRC_C("LDAP-Client", "Microsoft-Windows-LDAP-Client/Debug")},
    {"appmodel-runtime", SRC_C("AppModel-Runtime", "Microsoft-Windows-AppModel-Runtime/Admin")},
    {"smbclient-security", SRC_C("SmbClient", "Microsoft-Windows-SmbClient/Security")},
    {"smbserver-connectivity", SRC_C("SMBServer", "Microsoft-Windows-SMBServer/Connectivity")},
    {"diagnosis-scripted", SRC_C("Diagnosis-Scripted", "Microsoft-Windows-Diagnosis-Scripted/Operational")},
    {"lsa-server", SRC_C("LSA", "Microsoft-Windows-LSA/Operational")},
    {"openssh", SRC_C("OpenSSH", "OpenSSH/Operational")},
    {"capi2", SRC_C("CAPI2", "Microsoft-Windows-CAPI2/Operational")},
    {"bitlocker", SRC_C("BitLocker", "Microsoft-Windows-BitLocker/BitLocker Management")},
    {"vhdmp", SRC_C("VHDMP", "Microsoft-Windows-VHDMP-Operational")},
    {"printservice-admin", SRC_C("PrintService", "Microsoft-Windows-PrintService/Admin")},
    {"printservice-operational", SRC_C("PrintService", "Microsoft-Windows-PrintService/Operational")},
};

/* Live ETW events carry a provider and no channel name.  For a service
 * whose channel one provider writes, that provider's events stand for the
 * channel's when they come without one: an event id names the same event
 * of a provider whichever of its channels logs it, and the rules select by
 * id.  The System, Application and Security channels are written by many
 * providers; those are found by the descriptor's channel number instead
 * (8, 9, 10 in winmeta.xml), in sigma.c. */
static const struct {
    const char *channel, *provider;
} channel_writers[] = {
    {SYSMON "/Operational", SYSMON},
    {"Microsoft-Windows-PowerShell/Operational", "Microsoft-Windows-PowerShell"},
    {"Microsoft-Windows-Windows Defender/Operational", "Microsoft-Windows-Windows Defender"},
    {"Microsoft-Windows-TaskScheduler/Operational", "Microsoft-Windows-TaskScheduler"},
    {"Microsoft-Windows-CodeIntegrity/Operational", "Microsoft-Windows-CodeIntegrity"},
    {"Microsoft-Windows-AppXDeploymentServer/Operational", "Microsoft-Windows-AppXDeploymentServer"},
    {"Microsoft-Windows-AppxPackaging/Operational", "Microsoft-Windows-AppxPackagingOM"},
    {"Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",
     "Microsoft-Windows-Windows Firewall With Advanced Security"},
    {"Microsoft-Windows-Bits-Client/Operational", "Microsoft-Windows-Bits-Client"},
    {"Microsoft-Windows-DNS Client Events/Operational", "Microsoft-Windows-DNS-Client"},
    {"Microsoft-IIS-Configuration/Operational", "Microsoft-IIS-Configuration"},
    {"Microsoft-Windows-NTLM/Operational", "Microsoft-Windows-NTLM"},
    {"Microsoft-Windows-WMI-Activity/Operational", "Microsoft-Windows-WMI-Activity"},
    {"Microsoft-Windows-Security-Mitigations/KernelMode", "Microsoft-Windows-Security-Mitigations"},
    {"Microsoft-Windows-Security-Mitigations/UserMode", "Microsoft-Windows-Security-Mitigations"},
    {"Microsoft-Windows-AppLocker/EXE and DLL", "Microsoft-Windows-AppLocker"},
    {"Microsoft-Windows-AppLocker/MSI and Script", "Microsoft-Windows-AppLocker"},
    {"Microsoft-Windows-AppLocker/Packaged app-Deployment", "Microsoft-Windows-AppLocker"},
    {"Microsoft-Windows-AppLocker/Packaged app-Execution", "Microsoft-Windows-AppLocker"},
    {"Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
     "Microsoft-Windows-TerminalServices-LocalSessionManager"},
    {"Microsoft-Windows-Shell-Core/Operational", "Microsoft-Windows-Shell-Core"},
    {"Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
     "Microsoft-Windows-CertificateServicesClient-Lifecycle-System"},
    {"Microsoft-Windows-DriverFrameworks-UserMode/Operational", "Microsoft-Windows-DriverFrameworks-UserMode"},
    {"Microsoft-Windows-LDAP-Client/Debug", "Microsoft-Windows-LDAP-Client"},
    {"Microsoft-Windows-AppModel-Runtime/Admin", "Microsoft-Windows-AppModel-Runtime"},
    {"Microsoft-Windows-SmbClient/Security", "Microsoft-Windows-SMBClient"},
    {"Microsoft-Windows-SMBServer/Connectivity", "Microsoft-Windows-SMBServer"},
    {"Microsoft-Windows-Diagnosis-Scripted/Operational", "Microsoft-Windows-Diagnosis-Scripted"},
    {"Microsoft-Windows-LSA/Operational", "Microsoft-Windows-LSA"},
    {"OpenSSH/Operational", "OpenSSH"},
    {"Microsoft-Windows-CAPI2/Operational", "Microsoft-Windows-CAPI2"},
    {"Microsoft-Windows-BitLocker/BitLocker Management", "Microsoft-Windows-BitLocker-API"},
    {"Microsoft-Windows-VHDMP-Operational", "Microsoft-Windows-VHDMP"},
    {"Microsoft-Windows-PrintService/Admin", "Microsoft-Windows-PrintService"},
    {"Microsoft-Windows-PrintService/Operational", "Microsoft-Windows-PrintService"},
};

const char *sg_channel_writer(const char *channel)
{
    for (size_t i = 0; channel && i < sizeof channel_writers / sizeof channel_writers[0]; i++)
        if (strcmp(channel_writers[i].channel, channel) == 0) return channel_writers[i].provider;
    return NULL;
}

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

int sg_logsource(const char *product, const char *category, const char *service, const sg_source **out, int max,
                 const char **reason)
{
    int n = 0, i;
    if (product && strcmp(product, "linux") == 0) {
        if (category && strcmp(category, "process_creation") == 0 && !service) {
            out[n++] = &s_linux_pc[0];
            return n;
        }
        *reason = "Linux log sources other than process_creation are not served (tracefs has process starts)";
        return 0;
    }
    if (!product || strcmp(product, "windows") != 0) {
        *reason = "only product windows and linux are served";
        return 0;
    }
    if (category && service) {
        *reason = "a log source with both category and service is not served";
        return 0;
    }
    if (category && strcmp(category, "process_creation") == 0) {
        for (i = 0; i < N(s_pc) && n < max; i++) out[n++] = &s_pc[i];
        return n;
    }
    if (category) {
        for (i = 0; i < N(sysmon_cats); i++)
            if (strcmp(sysmon_cats[i].category, category) == 0 && n < max) out[n++] = &sysmon_cats[i].src;
        if (!n) *reason = "this Windows category has no event source in etwlua";
        return n;
    }
    if (service) {
        for (i = 0; i < N(services); i++)
            if (strcmp(services[i].category, service) == 0 && n < max) out[n++] = &services[i].src;
        if (!n) *reason = "this Windows service has no channel in etwlua's table";
        return n;
    }
    *reason = "a log source needs a category or a service";
    return 0;
}

const char *sg_source_field(const sg_source *src, const char *field, int *hdr, int *conv)
{
    *hdr = SG_PROP;
    *conv = 0;
    if (strcmp(field, "EventID") == 0) return (*hdr = SG_HDR_ID), field;
    if (strcmp(field, "Provider_Name") == 0) return (*hdr = SG_HDR_PROVIDER), field;
    if (strcmp(field, "Channel") == 0) return (*hdr = SG_HDR_CHANNEL), field;
    if (strcmp(field, "Computer") == 0) return (*hdr = SG_HDR_COMPUTER), field;
    if (src->map)
        for (const sg_map *m = src->map; m->sigma; m++)
            if (strcmp(m->sigma, field) == 0) {
                *conv = m->conv;
                return m->prop;
            }
    if (src->fields) {
        for (const char *const *f = src->fields; *f; f++)
            if (strcmp(*f, field) == 0) return field;
        return NULL; /* this source never has the field */
    }
    return field;
}

void sg_logsource_each(sg_logsource_fn each, void *ctx)
{
    int i;
    for (i = 0; i < N(s_pc); i++) each(ctx, "windows", "process_creation", NULL, &s_pc[i]);
    for (i = 0; i < N(sysmon_cats); i++) each(ctx, "windows", sysmon_cats[i].category, NULL, &sysmon_cats[i].src);
    for (i = 0; i < N(services); i++) each(ctx, "windows", NULL, services[i].category, &services[i].src);
    each(ctx, "linux", "process_creation", NULL, &s_linux_pc[0]);
}
