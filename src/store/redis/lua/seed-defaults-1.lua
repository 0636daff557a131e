-- Seeds the default tuple from the environment unless it already exists.
-- KEYS: 1 default tuple. ARGV: 1 approvalPolicy, 2 networkAccess, 3 filesystemSandbox.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'revision', 0, 'bytes', 0, 'approvalPolicy', ARGV[1],
  'networkAccess', ARGV[2], 'filesystemSandbox', ARGV[3])
return 1
