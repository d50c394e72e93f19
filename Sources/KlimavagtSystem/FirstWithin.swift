/// The value of `body`, or nil if it has not finished within `limit`, in which case it is cancelled: a wait on
/// something outside (a broker's message) that must not hold its caller for longer.
public func first<T: Sendable>(within limit: Duration, _ body: @escaping @Sendable () async -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let result = await group.next() ?? nil
        group.cancelAll()
        return result
    }
}
