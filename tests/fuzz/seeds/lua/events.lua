local etw = require "etw"
etw.on({ level = "information", opcode = 0 }, function(ev)
  print(ev.info.x, ev.info[1], rawlen and #ev.info, ev.ext and ev.ext.stacktrace)
  error({ ev = ev })
end)
--events
{"header":{"descriptor":{"id":7,"level":4},"process_id":9,"ts":"2024-03-05T10:11:12Z","provider_name":"P"},"info":{"x":[1,{"y":"z"}],"s":"\u0000\ud83d\ude00"}}
{"header":{"descriptor":{"id":8}},"info":{"x":"\u001b[31mred"},"ext":{"stacktrace":{"matched_id":1,"addresses":[1,2,3]}}}
