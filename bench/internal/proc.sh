# bench/internal/proc.sh: what bench/run, bench/recursive and bench/memory read of a resolver
# from /proc, sourced by them so that their columns mean the same. SRV_CPU is the core the resolver is
# pinned to.

# cputicks PID: its user+system jiffies.
cputicks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# corestat PID: jiffies of the resolver's core (SRV_CPU) from /proc/stat — user+nice+system
# of every process, steal (time the hypervisor ran something else), total — then the
# resolver's own user+system. others() turns two readings into "others%/steal%": the share
# of a round that other processes or the hypervisor took from the resolver's core. A tail
# in a round with a large share is the machine's, not the resolver's.
corestat() { echo "$(awk -v c="cpu$SRV_CPU" '$1==c{print $2+$3+$4, $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat) $(cputicks "$1")"; }
others() { awk -v a="$1" -v b="$2" 'BEGIN{ split(a,x," "); split(b,y," "); t=y[3]-x[3]; if (t<=0) { print "?"; exit }
  o=(y[1]-x[1])-(y[4]-x[4]); if (o<0) o=0; printf "%.0f%%/%.0f%%\n", 100*o/t, 100*(y[2]-x[2])/t }'; }
# rss_mb / hwm_mb PID: VmRSS / VmHWM in MiB.
rss_mb() { awk '/^VmRSS/{printf "%.0f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
hwm_mb() { awk '/^VmHWM/{printf "%.0f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
# rqwait PID: ns its threads spent runnable but waiting for a CPU (schedstat's second field).
rqwait() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$2} END{printf "%.0f\n", s}'; }
# faults PID: "MINOR MAJOR" page faults of all its threads (/proc/PID/stat fields 10 and 12);
# a major fault waited for the disk.
faults() { awk '{print $10, $12}' "/proc/$1/stat" 2>/dev/null || echo "0 0"; }
# ctxsw PID: "VOLUNTARY INVOLUNTARY" context switches summed over its threads: a voluntary one
# blocked (I/O, a lock, a sleep), an involuntary one was preempted.
ctxsw() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt/{v+=$2} /^nonvoluntary_ctxt/{i+=$2} END{print v+0, i+0}'; }
# threadstat PID: "TID:RUN_NS:WAIT_NS ..." of every thread of PID (schedstat), for busiest().
threadstat() { local t; for t in /proc/"$1"/task/*; do echo "${t##*/}:$(awk '{print $1":"$2}' "$t/schedstat" 2>/dev/null)"; done | tr '\n' ' '; }
# busiest BEFORE AFTER: the run-queue wait (ns) of the thread that ran the most in between: the one
# that serves, where the sum over threads counts a Go runtime's monitor thread too.
busiest() { awk -v a="$1" -v b="$2" 'BEGIN{ n=split(a,x," "); for (i=1;i<=n;i++) { split(x[i],f,":"); r[f[1]]=f[2]; w[f[1]]=f[3] }
  n=split(b,y," "); for (i=1;i<=n;i++) { split(y[i],f,":"); d=f[2]-r[f[1]]; if (d>m) { m=d; v=f[3]-w[f[1]] } } printf "%.0f\n", v+0 }'; }
