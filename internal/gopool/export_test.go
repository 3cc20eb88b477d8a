package gopool

// Wait blocks until every worker has exited: p.idle after its last task,
// or Close. Tests use it to see that no worker leaks.
func (p *Pool) Wait() { p.wg.Wait() }
