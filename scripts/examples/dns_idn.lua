-- Alerts on DNS queries for names with non-ASCII characters (possible
-- homograph domains), from Microsoft-Windows-DNS-Client event 3008.
local etw = require "etw"

etw.on({ provider = "Microsoft-Windows-DNS-Client", id = 3008 }, function(ev)
  local name = ev.info.QueryName
  if name and name:find("[\128-\255]") then
    etw.alert {
      rule = "example.dns_non_ascii",
      title = "DNS query for a non-ASCII name",
      severity = "medium",
      technique = "T1583.001",
      message = name,
      event = ev,
    }
  end
end)
