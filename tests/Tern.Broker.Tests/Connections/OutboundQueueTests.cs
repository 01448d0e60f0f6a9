using Tern.Protocol;
using Xunit.Abstractions;

namespace Tern.Broker.Tests.Connections;

/// <summary>
/// The per-connection queue between producers (any thread) and the one writer: order, nothing lost
/// or duplicated, and who wakes the writer where (inline at the end of a batch, else the thread pool).
/// </summary>
public sealed class OutboundQueueTests(ITestOutputHelper output)
{
    // Stress items carry producer and sequence in a PUBACK's 16-bit packet id.
    private const int ProducerBits = 3;
    private const int SequenceBits = 16 - ProducerBits;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    // ---- order ----

    [Fact]
    public void EmptyQueueHasNothingToTake()
    {
        var queue = new OutboundQueue();
        Queue<OutboundItem>? into = null;

        Assert.False(queue.HasItems);
        Assert.False(queue.TryTakeAll(ref into, out var first, out var hasFirst));
        Assert.False(hasFirst);
        Assert.Null(first.Control);
        Assert.Null(into);
    }

    [Fact]
    public void OneItemIsTakenWithoutAnyQueue()
    {
        var queue = new OutboundQueue();
        Queue<OutboundItem>? into = null;

        Assert.True(queue.TryAdd(OutboundItem.Packet(PingRespPacket.Instance)));
        Assert.True(queue.HasItems);

        Assert.True(queue.TryTakeAll(ref into, out var first, out var hasFirst));
        Assert.True(hasFirst);
        Assert.Same(PingRespPacket.Instance, first.Control);
        Assert.Null(into);
        Assert.False(queue.HasItems);
        Assert.False(queue.TryTakeAll(ref into, out _, out _));
    }

    [Fact]
    public void ManyItemsComeOutInTheOrderTheyWentIn()
    {
        var queue = new OutboundQueue();
        Queue<OutboundItem>? into = null;
        for (var i = 1; i <= 10; i++)
        {
            Assert.True(queue.TryAdd(Item(i)));
        }

        Assert.Equal(Enumerable.Range(1, 10), TakeAll(queue, ref into));
        Assert.Empty(TakeAll(queue, ref into));
        Assert.False(queue.HasItems);
    }

    [Fact]
    public void ItemsAddedBetweenTakesKeepTheirOrder()
    {
        var queue = new OutboundQueue();
        Queue<OutboundItem>? into = null;

        queue.TryAdd(Item(1));
        queue.TryAdd(Item(2));
        queue.TryAdd(Item(3));
        Assert.Equal([1, 2, 3], TakeAll(queue, ref into));

        queue.TryAdd(Item(4));
        Assert.Equal([4], TakeAll(queue, ref into));

        queue.TryAdd(Item(5));
        queue.TryAdd(Item(6));
        Assert.Equal([5, 6], TakeAll(queue, ref into));

        queue.TryAdd(Item(7));
        Assert.Equal([7], TakeAll(queue, ref into));
        Assert.Empty(TakeAll(queue, ref into));
    }

    [Fact]
    public void TakeAllSwapsTheCallersQueueWithTheStorage()
    {
        var queue = new OutboundQueue();
        var mine = new Queue<OutboundItem>();
        var into = mine;

        queue.TryAdd(Item(1));
        queue.TryAdd(Item(2));
        queue.TryAdd(Item(3));
        Assert.True(queue.TryTakeAll(ref into, out var first, out var hasFirst));
        Assert.True(hasFirst);
        Assert.Equal(1, Id(first));
        Assert.NotNull(into);
        Assert.NotSame(mine, into);
        Assert.Equal([2, 3], into.Select(Id));
        into.Clear();

        // The caller's emptied queue now holds the overflow, so a steady writer allocates nothing.
        queue.TryAdd(Item(4));
        queue.TryAdd(Item(5));
        queue.TryAdd(Item(6));
        Assert.True(queue.TryTakeAll(ref into, out first, out _));
        Assert.Equal(4, Id(first));
        Assert.Same(mine, into);
        Assert.Equal([5, 6], mine.Select(Id));
        mine.Clear();

        // A lone item leaves the caller's queue alone.
        queue.TryAdd(Item(7));
        Assert.True(queue.TryTakeAll(ref into, out first, out _));
        Assert.Equal(7, Id(first));
        Assert.Same(mine, into);
        Assert.Empty(mine);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task RandomAddsAndTakesMatchAPlainQueue(int seed)
    {
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var queue = new OutboundQueue();
        var model = new Queue<int>();
        var taken = new List<int>();
        Queue<OutboundItem>? into = null;
        var next = 0;

        for (var step = 0; step < 2_000; step++)
        {
            switch (random.Next(4))
            {
                case 0:
                case 1:
                    for (var n = random.Next(1, 7); n > 0; n--)
                    {
                        Assert.True(queue.TryAdd(Item(next)));
                        model.Enqueue(next++);
                    }

                    break;
                case 2:
                    var batch = TakeAll(queue, ref into);
                    Assert.Equal(model, batch);
                    model.Clear();
                    taken.AddRange(batch);
                    break;
                default:
                    var wait = queue.WaitAsync();
                    if (model.Count > 0)
                    {
                        Assert.True(Outcome(wait), $"seed {seed} step {step}: items queued, yet the writer would wait");
                    }
                    else
                    {
                        // A writer never calls again before its wait completed, so an add must end it.
                        Assert.False(wait.IsCompleted, $"seed {seed} step {step}: nothing queued, yet the wait ended");
                        Assert.True(queue.TryAdd(Item(next)));
                        model.Enqueue(next++);
                        Assert.True(await wait.AsTask().WaitAsync(Timeout));
                    }

                    break;
            }

            Assert.Equal(model.Count > 0, queue.HasItems);
        }

        taken.AddRange(TakeAll(queue, ref into));
        Assert.Equal(Enumerable.Range(0, next), taken);
    }

    // ---- waiting and completion ----

    [Fact]
    public void WaitIsTrueAtOnceWhenAnItemIsQueued()
    {
        var queue = new OutboundQueue();
        queue.TryAdd(Item(1));

        var wait = queue.WaitAsync();

        Assert.True(Outcome(wait));
        Assert.True(queue.HasItems); // waiting takes nothing
    }

    [Fact]
    public async Task WaitEndsOnTheThreadPoolWhenAnItemIsAddedLater()
    {
        var queue = new OutboundQueue();
        var wait = queue.WaitAsync();
        Assert.False(wait.IsCompleted);
        var woken = Observe(wait);

        RunOnNewThread(() => Assert.True(queue.TryAdd(Item(1))));
        var wake = await woken.WaitAsync(Timeout);

        Assert.True(wake.Result);
        Assert.True(wake.OnThreadPool); // so not on the adding thread, which is not the pool's
        Assert.False(wake.Inline);
        Queue<OutboundItem>? into = null;
        Assert.Equal([1], TakeAll(queue, ref into));
    }

    [Fact]
    public void WaitIsFalseOnceCompletedAndEmpty()
    {
        var queue = new OutboundQueue();
        queue.Complete();

        var wait = queue.WaitAsync();

        Assert.False(Outcome(wait));
    }

    [Fact]
    public void AddAfterCompleteIsRefusedAndNotQueued()
    {
        var queue = new OutboundQueue();
        Queue<OutboundItem>? into = null;
        queue.Complete();

        Assert.False(queue.TryAdd(Item(1)));
        Assert.False(queue.HasItems);
        Assert.False(queue.TryTakeAll(ref into, out _, out var hasFirst));
        Assert.False(hasFirst);
    }

    [Fact]
    public void CompletedQueueStillHandsOutWhatWasQueued()
    {
        var queue = new OutboundQueue();
        Queue<OutboundItem>? into = null;
        queue.TryAdd(Item(1));
        queue.TryAdd(Item(2));
        queue.Complete();
        queue.Complete(); // twice is harmless

        Assert.False(queue.TryAdd(Item(3)));
        var wait = queue.WaitAsync();
        Assert.True(Outcome(wait));
        Assert.Equal([1, 2], TakeAll(queue, ref into));

        wait = queue.WaitAsync();
        Assert.False(Outcome(wait));
        Assert.False(queue.TryAdd(Item(4)));
        Assert.Empty(TakeAll(queue, ref into));
    }

    [Fact]
    public async Task CompleteWakesAWaitingWriterOnTheThreadPoolAndItThenSeesTheEnd()
    {
        var queue = new OutboundQueue();
        var wait = queue.WaitAsync();
        var woken = Observe(wait);

        RunOnNewThread(queue.Complete);
        var wake = await woken.WaitAsync(Timeout);

        // "Take again": the writer finds nothing, and the next wait says the end.
        Assert.True(wake.Result);
        Assert.True(wake.OnThreadPool);
        Queue<OutboundItem>? into = null;
        Assert.Empty(TakeAll(queue, ref into));
        var last = queue.WaitAsync();
        Assert.False(Outcome(last));
    }

    [Fact]
    public async Task WriterDrainsEverythingAddedBeforeCompleteAndThenStops()
    {
        var queue = new OutboundQueue();
        var writer = new Writer(queue);
        var run = writer.RunAsync();
        Assert.False(run.IsCompleted); // waiting

        RunOnNewThread(() =>
        {
            for (var i = 1; i <= 100; i++)
            {
                Assert.True(queue.TryAdd(Item(i)));
            }

            queue.Complete();
            Assert.False(queue.TryAdd(Item(101)));
        });

        await run.WaitAsync(Timeout);
        Assert.Equal(Enumerable.Range(1, 100), writer.Taken);
    }

    // ---- batching ----

    [Fact]
    public void AddsInABatchWakeTheWriterInlineAtEndBatchOnce()
    {
        var queue = new OutboundQueue();
        var woken = Observe(queue.WaitAsync());

        var scope = OutboundQueue.BeginBatch();
        try
        {
            // Three adds, one wake: a second SetResult on the same wait would throw out of EndBatch.
            Assert.True(queue.TryAdd(Item(1)));
            Assert.True(queue.TryAdd(Item(2)));
            Assert.True(queue.TryAdd(Item(3)));
            Assert.False(woken.IsCompleted);
            Assert.False(OutboundQueue.RunningInline);
        }
        finally
        {
            OutboundQueue.EndBatch(scope);
        }

        var wake = Woken(woken); // ran before EndBatch returned
        Assert.True(wake.Result);
        Assert.Equal(Environment.CurrentManagedThreadId, wake.ThreadId);
        Assert.True(wake.Inline);
        Assert.False(OutboundQueue.RunningInline);
    }

    [Fact]
    public async Task EndBatchReturnsWhenTheWriterWaitsAgain()
    {
        var queue = new OutboundQueue();
        var writer = new Writer(queue);
        var run = writer.RunAsync();
        Assert.False(run.IsCompleted);

        var scope = OutboundQueue.BeginBatch();
        try
        {
            queue.TryAdd(Item(1));
            queue.TryAdd(Item(2));
            queue.TryAdd(Item(3));
            Assert.Empty(writer.Takes);
        }
        finally
        {
            OutboundQueue.EndBatch(scope);
        }

        var take = Assert.Single(writer.Takes);
        Assert.Equal([1, 2, 3], take.Ids);
        Assert.True(take.Inline);
        Assert.Equal(Environment.CurrentManagedThreadId, take.ThreadId);
        Assert.False(queue.HasItems);
        Assert.False(run.IsCompleted); // waiting again

        // A later batch that adds nothing does not wake it (the batch's list was left empty).
        OutboundQueue.EndBatch(OutboundQueue.BeginBatch());
        Assert.Single(writer.Takes);

        // Outside a batch the wake goes through the thread pool.
        queue.TryAdd(Item(4));
        queue.Complete();
        await run.WaitAsync(Timeout);
        Assert.Equal([1, 2, 3, 4], writer.Taken);
        Assert.False(writer.Takes[1].Inline);
        Assert.True(writer.Takes[1].OnThreadPool);
    }

    [Fact]
    public void AddThenCompleteInABatchWakesTheWriterOnceAndItEnds()
    {
        var queue = new OutboundQueue();
        var writer = new Writer(queue);
        var run = writer.RunAsync();

        var scope = OutboundQueue.BeginBatch();
        try
        {
            queue.TryAdd(Item(1));
            queue.Complete(); // the add already claimed the wake: Complete must not wake it a second time
        }
        finally
        {
            OutboundQueue.EndBatch(scope);
        }

        Assert.True(run.IsCompletedSuccessfully);
        Assert.Equal([1], writer.Taken);
        Assert.True(writer.Takes[0].Inline);
    }

    [Fact]
    public void AddInABatchToAQueueNotWaitingWakesNothing()
    {
        var queue = new OutboundQueue();

        var scope = OutboundQueue.BeginBatch();
        try
        {
            queue.TryAdd(Item(1));
        }
        finally
        {
            OutboundQueue.EndBatch(scope);
        }

        var wait = queue.WaitAsync();
        Assert.True(Outcome(wait));
        Queue<OutboundItem>? into = null;
        Assert.Equal([1], TakeAll(queue, ref into));
    }

    [Fact]
    public void NestedBatchesEachWakeTheirOwnWriters()
    {
        var outerQueue = new OutboundQueue();
        var innerQueue = new OutboundQueue();
        var outerWoken = Observe(outerQueue.WaitAsync());
        var innerWoken = Observe(innerQueue.WaitAsync());

        var outer = OutboundQueue.BeginBatch();
        try
        {
            outerQueue.TryAdd(Item(1));
            var inner = OutboundQueue.BeginBatch();
            try
            {
                innerQueue.TryAdd(Item(2));
            }
            finally
            {
                OutboundQueue.EndBatch(inner);
            }

            Assert.True(Woken(innerWoken).Inline);
            Assert.False(outerWoken.IsCompleted); // still the outer scope's, not woken yet
            Assert.False(OutboundQueue.RunningInline);
        }
        finally
        {
            OutboundQueue.EndBatch(outer);
        }

        Assert.True(Woken(outerWoken).Inline);
        Assert.Equal(Environment.CurrentManagedThreadId, Woken(outerWoken).ThreadId);
        Assert.False(OutboundQueue.RunningInline);
    }

    [Fact]
    public void ABatchEndedInsideAnInlineWriterLeavesItInline()
    {
        // A read loop resumed inline inside another one's EndBatch runs its own batch there.
        var first = new OutboundQueue();
        var second = new OutboundQueue();
        var secondWoken = Observe(second.WaitAsync());
        bool? inlineAfterInnerBatch = null;
        OnWoken(first.WaitAsync(), _ =>
        {
            var scope = OutboundQueue.BeginBatch();
            try
            {
                second.TryAdd(Item(2));
            }
            finally
            {
                OutboundQueue.EndBatch(scope);
            }

            inlineAfterInnerBatch = OutboundQueue.RunningInline;
        });

        var outer = OutboundQueue.BeginBatch();
        try
        {
            first.TryAdd(Item(1));
        }
        finally
        {
            OutboundQueue.EndBatch(outer);
        }

        Assert.True(inlineAfterInnerBatch);
        Assert.True(Woken(secondWoken).Inline);
        Assert.Equal(Environment.CurrentManagedThreadId, Woken(secondWoken).ThreadId);
        Assert.False(OutboundQueue.RunningInline);
    }

    [Fact]
    public void ABatchOnOneThreadDoesNotCatchAddsFromAnother()
    {
        var queue = new OutboundQueue();
        Wake wake = default;
        using var woken = new ManualResetEventSlim();
        OnWoken(queue.WaitAsync(), result =>
        {
            wake = new Wake(result, Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread, OutboundQueue.RunningInline);
            woken.Set();
        });

        var scope = OutboundQueue.BeginBatch();
        try
        {
            RunOnNewThread(() => queue.TryAdd(Item(1)));

            // Blocking, not awaiting: the scope belongs to this thread.
            Assert.True(woken.Wait(Timeout), "the writer was not woken while this thread's batch was open");
        }
        finally
        {
            OutboundQueue.EndBatch(scope);
        }

        Assert.True(wake.Result);
        Assert.True(wake.OnThreadPool);
        Assert.False(wake.Inline);
    }

    // ---- concurrency ----

    [Theory]
    [InlineData(11, false)]
    [InlineData(12, false)]
    [InlineData(13, false)]
    [InlineData(21, true)]
    [InlineData(22, true)]
    [InlineData(23, true)]
    public Task ConcurrentProducersAndOneWriterLoseAndDuplicateNothing(int seed, bool completeEarly)
        => StressAsync(seed, completeEarly);

    [Fact]
    public Task ConcurrentProducersAndOneWriterWithAFreshSeed()
    {
        var seed = Random.Shared.Next();
        return StressAsync(seed, seed % 2 == 0);
    }

    private async Task StressAsync(int seed, bool completeEarly)
    {
        output.WriteLine($"seed {seed}, complete early: {completeEarly}");
        try
        {
            await StressCoreAsync(seed, completeEarly);
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            Assert.Fail($"seed {seed}: {ex}");
        }
    }

    private static async Task StressCoreAsync(int seed, bool completeEarly)
    {
        var random = new Random(seed);
        var producers = random.Next(2, 1 << ProducerBits);
        var perProducer = random.Next(1_000, 1 << SequenceBits);
        var total = producers * perProducer;
        var queue = new OutboundQueue();
        var writer = new Writer(queue, new Random(random.Next()));
        var threshold = completeEarly ? random.Next(1, total) : total;
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        writer.Progress = count =>
        {
            if (count >= threshold)
            {
                reached.TrySetResult();
            }
        };

        using var start = new ManualResetEventSlim();
        var accepted = new Task<int>[producers];
        for (var p = 0; p < producers; p++)
        {
            var producer = p;
            var producerRandom = new Random(random.Next());
            accepted[p] = Task.Factory.StartNew(
                () => Produce(queue, producer, perProducer, producerRandom, start),
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
        }

        var run = Task.Run(writer.RunAsync);
        start.Set();
        var allProduced = Task.WhenAll(accepted);
        if (completeEarly)
        {
            await Task.WhenAny(allProduced, reached.Task).WaitAsync(Timeout);
        }
        else
        {
            // Everything arrives before Complete: a lost wake-up leaves the writer waiting here.
            await reached.Task.WaitAsync(Timeout);
        }

        queue.Complete();
        var expected = await allProduced.WaitAsync(Timeout);
        await run.WaitAsync(Timeout);

        if (!completeEarly)
        {
            Assert.All(expected, count => Assert.Equal(perProducer, count));
        }

        var received = new List<int>[producers];
        for (var p = 0; p < producers; p++)
        {
            received[p] = [];
        }

        foreach (var id in writer.Taken)
        {
            received[id >> SequenceBits].Add(id & ((1 << SequenceBits) - 1));
        }

        for (var p = 0; p < producers; p++)
        {
            var got = received[p];
            var mismatch = Enumerable.Range(0, Math.Max(got.Count, expected[p])).FirstOrDefault(i => i >= got.Count || got[i] != i, -1);
            Assert.True(
                mismatch < 0 && got.Count == expected[p],
                $"seed {seed}: producer {p} had {expected[p]} accepted, the writer got {got.Count}; first wrong at {mismatch}"
                + (mismatch >= 0 && mismatch < got.Count ? $" (got {got[mismatch]})" : ""));
        }
    }

    /// <summary>Adds its sequence in bursts, half of them in batches as a read loop does; stops at the first refusal.</summary>
    private static int Produce(OutboundQueue queue, int producer, int count, Random random, ManualResetEventSlim start)
    {
        if (!start.Wait(Timeout))
        {
            throw new TimeoutException("no start");
        }

        var sequence = 0;
        while (sequence < count)
        {
            var burst = Math.Min(count - sequence, random.Next(1, 17));
            var batched = random.Next(2) == 0;
            var scope = batched ? OutboundQueue.BeginBatch() : default;
            try
            {
                for (var i = 0; i < burst; i++, sequence++)
                {
                    if (!queue.TryAdd(Item((producer << SequenceBits) | sequence)))
                    {
                        if (queue.TryAdd(Item((producer << SequenceBits) | sequence)))
                        {
                            throw new InvalidOperationException($"producer {producer}: an add after a refusal was accepted");
                        }

                        return sequence;
                    }
                }
            }
            finally
            {
                if (batched)
                {
                    OutboundQueue.EndBatch(scope);
                }
            }

            // Vary the pace so the writer both waits and finds a backlog; not a wait for anything.
            switch (random.Next(4))
            {
                case 0:
                    Thread.Yield();
                    break;
                case 1:
                    Thread.SpinWait(random.Next(1, 200));
                    break;
            }
        }

        return sequence;
    }

    // ---- helpers ----

    private static OutboundItem Item(int id) => OutboundItem.Packet(new PubAckPacket { PacketId = (ushort)id });

    private static int Id(OutboundItem item) => ((PubAckPacket)item.Control!).PacketId;

    private static List<int> TakeAll(OutboundQueue queue, ref Queue<OutboundItem>? into)
    {
        var taken = new List<int>();
        if (queue.TryTakeAll(ref into, out var first, out var hasFirst))
        {
            Assert.True(hasFirst); // the oldest item is always in the field
            taken.Add(Id(first));
            while (into is not null && into.TryDequeue(out var item))
            {
                taken.Add(Id(item));
            }
        }

        return taken;
    }

    private readonly record struct Wake(bool Result, int ThreadId, bool OnThreadPool, bool Inline);

    /// <summary>A value task's outcome if it has one now, else null.</summary>
    private static bool? Outcome(ValueTask<bool> wait) => wait.IsCompletedSuccessfully ? wait.Result : null;

    /// <summary>Runs <paramref name="then"/> wherever the queue completes the wait (no context captured, as the writer).</summary>
    private static void OnWoken(ValueTask<bool> wait, Action<bool> then)
    {
        var awaiter = wait.ConfigureAwait(false).GetAwaiter();
        awaiter.UnsafeOnCompleted(() => then(awaiter.GetResult()));
    }

    /// <summary>Where and how the wait's continuation ran.</summary>
    private static Task<Wake> Observe(ValueTask<bool> wait)
    {
        var woken = new TaskCompletionSource<Wake>(TaskCreationOptions.RunContinuationsAsynchronously);
        OnWoken(wait, result => woken.SetResult(
            new Wake(result, Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread, OutboundQueue.RunningInline)));
        return woken.Task;
    }

    /// <summary>The wake of a wait that must have ended already.</summary>
    private static Wake Woken(Task<Wake> woken)
    {
        Assert.True(woken.IsCompletedSuccessfully, "the writer was not woken");
        return woken.Result;
    }

    /// <summary>Runs <paramref name="action"/> on a new thread, not the pool's, and waits for it.</summary>
    private static void RunOnNewThread(Action action)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception ex)
            {
                error = ex;
            }
        }) { IsBackground = true };
        thread.Start();
        Assert.True(thread.Join(Timeout), "thread did not finish");
        if (error is not null)
        {
            throw new InvalidOperationException("the thread failed", error);
        }
    }

    /// <summary>A writer loop like MqttConnection.WriteLoopAsync that records what it took, where.</summary>
    private sealed class Writer(OutboundQueue queue, Random? random = null)
    {
        public List<Take> Takes { get; } = [];

        public List<int> Taken { get; } = [];

        public Action<int>? Progress { get; set; }

        public async Task RunAsync()
        {
            Queue<OutboundItem>? items = null;
            while (true)
            {
                if (!queue.TryTakeAll(ref items, out var first, out var hasFirst))
                {
                    if (!await queue.WaitAsync().ConfigureAwait(false))
                    {
                        return;
                    }

                    continue;
                }

                var ids = new List<int>();
                if (hasFirst)
                {
                    ids.Add(Id(first));
                }

                while (items is not null && items.TryDequeue(out var item))
                {
                    ids.Add(Id(item));
                }

                Takes.Add(new Take(ids, OutboundQueue.RunningInline, Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread));
                Taken.AddRange(ids);
                Progress?.Invoke(Taken.Count);

                // As the real writer: one batch inline, the rest on the pool; sometimes a flush that does not complete at once.
                if ((OutboundQueue.RunningInline && queue.HasItems) || random?.Next(8) == 0)
                {
                    await Task.Yield();
                }
            }
        }
    }

    private sealed record Take(List<int> Ids, bool Inline, int ThreadId, bool OnThreadPool);
}
