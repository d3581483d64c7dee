using VmmSwap.Core.Pages;

namespace VmmSwap.Core.Tests.Pages;

/// <summary>
/// The present-page bitmap: set, clear, counts, run walks and their edges. One class past the usual
/// length: many small edge cases of one type, each a few lines.
/// </summary>
public sealed class PresentListTests
{
    [Fact]
    public void A_new_list_has_its_length_and_no_page_present()
    {
        var list = new PresentList(200);
        Assert.Equal(200, list.Length);
        Assert.Equal(0, list.Count);
        Assert.False(list.AllPresent);
        for (long i = 0; i < list.Length; i++)
        {
            Assert.False(list.Get(i));
        }

        Assert.Null(list.FirstDataRange(10));
        Assert.Equal(-1, list.NextSet(0));
    }

    [Fact]
    public void A_negative_length_is_refused()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new PresentList(-1));
        Assert.Equal("length", error.ParamName);
    }

    [Fact]
    public void An_empty_list_is_all_present_and_has_no_data()
    {
        var list = new PresentList(0);
        Assert.True(list.AllPresent);
        Assert.False(list.Get(0));
        Assert.Null(list.FirstDataRange(1));
        Assert.False(list.MarkAsPresent(0));
    }

    [Fact]
    public void Get_outside_the_list_is_false_even_when_every_page_is_present()
    {
        var list = new PresentList(64);
        Assert.True(list.MarkRangeAsPresent(new PageRange(0, 64)));
        Assert.True(list.Get(0));
        Assert.True(list.Get(63));
        Assert.False(list.Get(-1));
        Assert.False(list.Get(64));
        Assert.False(list.Get(long.MaxValue));
        Assert.False(list.Get(long.MinValue));
    }

    [Fact]
    public void MarkAsPresent_sets_only_that_page_and_counts_it()
    {
        var list = new PresentList(10);
        Assert.True(list.MarkAsPresent(4));
        Assert.True(list.Get(4));
        Assert.False(list.Get(3));
        Assert.False(list.Get(5));
        Assert.Equal(1, list.Count);

        Assert.True(list.MarkRangeAsPresent(new PageRange(6, 9)));
        Assert.True(list.Get(6));
        Assert.True(list.Get(8));
        Assert.False(list.Get(9));
        Assert.Equal(4, list.Count);
    }

    [Fact]
    public void Marking_a_page_twice_counts_it_once()
    {
        var list = new PresentList(10);
        Assert.True(list.MarkAsPresent(2));
        Assert.True(list.MarkAsPresent(2));
        Assert.Equal(1, list.Count);

        Assert.True(list.MarkRangeAsPresent(new PageRange(0, 5)));
        Assert.True(list.MarkRangeAsPresent(new PageRange(3, 7)));
        Assert.Equal(7, list.Count);
        Assert.True(list.Get(2));
    }

    [Fact]
    public void Marking_outside_the_list_returns_false_and_changes_nothing()
    {
        var list = new PresentList(10);
        Assert.False(list.MarkAsPresent(10));
        Assert.False(list.MarkAsPresent(-1));
        Assert.False(list.MarkRangeAsPresent(new PageRange(5, 11)));
        Assert.False(list.MarkRangeAsPresent(new PageRange(-1, 3)));
        Assert.False(list.MarkRangeAsPresent(new PageRange(6, 4)));

        Assert.Equal(0, list.Count);
        Assert.False(list.Get(5));
        Assert.False(list.Get(0));
        Assert.Null(list.FirstDataRange(10));
    }

    [Fact]
    public void ClearRange_clears_only_the_range_and_updates_the_count()
    {
        var list = new PresentList(10);
        list.MarkRangeAsPresent(new PageRange(0, 10));
        Assert.True(list.AllPresent);

        Assert.True(list.ClearRange(new PageRange(3, 6)));
        Assert.Equal(7, list.Count);
        Assert.False(list.AllPresent);
        Assert.True(list.Get(2));
        Assert.False(list.Get(3));
        Assert.False(list.Get(5));
        Assert.True(list.Get(6));
    }

    [Fact]
    public void Clearing_a_range_twice_does_not_count_it_twice()
    {
        var list = new PresentList(10);
        list.MarkRangeAsPresent(new PageRange(2, 8));

        Assert.True(list.ClearRange(new PageRange(4, 6)));
        Assert.True(list.ClearRange(new PageRange(4, 6)));
        Assert.Equal(4, list.Count);

        // Overlapping a cleared part with a present part clears only what was present.
        Assert.True(list.ClearRange(new PageRange(0, 5)));
        Assert.Equal(2, list.Count);
        Assert.Equal(new PageRange(6, 8), list.FirstDataRange(10));
    }

    [Fact]
    public void Clearing_outside_the_list_returns_false_and_changes_nothing()
    {
        var list = new PresentList(10);
        list.MarkRangeAsPresent(new PageRange(0, 10));

        Assert.False(list.ClearRange(new PageRange(5, 11)));
        Assert.False(list.ClearRange(new PageRange(-1, 2)));
        Assert.False(list.ClearRange(new PageRange(7, 3)));

        Assert.Equal(10, list.Count);
        Assert.True(list.Get(0));
        Assert.True(list.Get(9));
    }

    [Fact]
    public void FirstDataRange_returns_the_first_run_cut_to_max_pages()
    {
        var list = new PresentList(100);
        list.MarkRangeAsPresent(new PageRange(10, 20));
        list.MarkRangeAsPresent(new PageRange(30, 35));

        Assert.Equal(new PageRange(10, 20), list.FirstDataRange(100));
        Assert.Equal(new PageRange(10, 14), list.FirstDataRange(4));
        Assert.Equal(new PageRange(10, 11), list.FirstDataRange(1));

        // Asking does not consume anything.
        Assert.Equal(new PageRange(10, 20), list.FirstDataRange(100));
        Assert.Throws<ArgumentOutOfRangeException>(() => list.FirstDataRange(0));
    }

    [Fact]
    public void FirstDataRange_after_a_partial_clear_starts_after_the_cleared_pages()
    {
        var list = new PresentList(100);
        list.MarkRangeAsPresent(new PageRange(10, 20));
        list.MarkRangeAsPresent(new PageRange(30, 35));
        Assert.Equal(new PageRange(10, 20), list.FirstDataRange(100));

        list.ClearRange(new PageRange(10, 15));
        Assert.Equal(new PageRange(15, 20), list.FirstDataRange(100));

        list.ClearRange(new PageRange(12, 20));
        Assert.Equal(new PageRange(30, 35), list.FirstDataRange(100));

        list.ClearRange(new PageRange(31, 32));
        Assert.Equal(new PageRange(30, 31), list.FirstDataRange(100));

        list.ClearRange(new PageRange(0, 100));
        Assert.Null(list.FirstDataRange(100));
        Assert.Equal(0, list.Count);
    }

    [Fact]
    public void FirstDataRange_finds_pages_marked_before_earlier_results_after_a_clear()
    {
        var list = new PresentList(200);
        list.MarkRangeAsPresent(new PageRange(100, 110));
        Assert.Equal(new PageRange(100, 110), list.FirstDataRange(50));

        list.ClearRange(new PageRange(100, 105));
        Assert.Equal(new PageRange(105, 110), list.FirstDataRange(50));

        // A page marked below where the last search started must still be found.
        list.MarkAsPresent(3);
        Assert.Equal(new PageRange(3, 4), list.FirstDataRange(50));

        list.ClearRange(new PageRange(0, 200));
        Assert.Null(list.FirstDataRange(50));
        list.MarkRangeAsPresent(new PageRange(150, 152));
        Assert.Equal(new PageRange(150, 152), list.FirstDataRange(50));
    }

    [Fact]
    public void FirstDataRange_ends_at_the_end_of_the_list_when_the_last_pages_are_present()
    {
        var list = new PresentList(200);
        list.MarkRangeAsPresent(new PageRange(150, 200));
        Assert.Equal(new PageRange(150, 200), list.FirstDataRange(1000));

        list.MarkRangeAsPresent(new PageRange(0, 200));
        Assert.True(list.AllPresent);
        Assert.Equal(new PageRange(0, 200), list.FirstDataRange(200));
        Assert.Equal(new PageRange(0, 200), list.FirstDataRange(1000));
        Assert.Equal(new PageRange(0, 64), list.FirstDataRange(64));
    }

    [Fact]
    public void FirstDataRange_with_max_pages_of_long_MaxValue_returns_the_whole_run()
    {
        var list = new PresentList(100);
        list.MarkRangeAsPresent(new PageRange(5, 8));

        // maxPages is only an upper bound: the largest one must not change the answer.
        Assert.Equal(new PageRange(5, 8), list.FirstDataRange(long.MaxValue));
    }

    [Fact]
    public void AllPresent_is_true_only_while_every_page_is_present()
    {
        var list = new PresentList(130);
        list.MarkRangeAsPresent(new PageRange(0, 129));
        Assert.False(list.AllPresent);

        list.MarkAsPresent(129);
        Assert.True(list.AllPresent);
        Assert.Equal(130, list.Count);

        list.ClearRange(new PageRange(64, 65));
        Assert.False(list.AllPresent);
        Assert.Equal(129, list.Count);
    }

    [Fact]
    public void Count_follows_overlapping_marks_and_clears()
    {
        var list = new PresentList(300);
        list.MarkRangeAsPresent(new PageRange(0, 100));
        list.MarkRangeAsPresent(new PageRange(50, 150));
        Assert.Equal(150, list.Count);

        list.ClearRange(new PageRange(120, 200));
        Assert.Equal(120, list.Count);

        list.MarkRangeAsPresent(new PageRange(250, 300));
        list.ClearRange(new PageRange(10, 10));
        Assert.Equal(170, list.Count);
        Assert.Equal(list.Count, list.CountIn(new PageRange(0, 300)));
    }

    [Fact]
    public void Count_and_every_query_agree_with_a_plain_bool_array_under_random_operations()
    {
        const int Length = 517;
        var random = new Random(1234);
        var list = new PresentList(Length);
        var model = new bool[Length];
        for (var step = 0; step < 2000; step++)
        {
            var start = random.Next(Length);
            var end = Math.Min(Length, start + random.Next(1, 140));
            var set = random.Next(3) != 0;
            Assert.True(set ? list.MarkRangeAsPresent(new PageRange(start, end)) : list.ClearRange(new PageRange(start, end)));
            Array.Fill(model, set, start, end - start);

            Assert.Equal(model.Count(b => b), list.Count);
            var first = Array.IndexOf(model, true);
            var range = list.FirstDataRange(70);
            if (first < 0)
            {
                Assert.Null(range);
                continue;
            }

            var runEnd = first;
            while (runEnd < Length && runEnd - first < 70 && model[runEnd])
            {
                runEnd++;
            }

            Assert.Equal(new PageRange(first, runEnd), range);
            var probe = random.Next(Length);
            Assert.Equal(model[probe], list.Get(probe));
            var nextSet = Array.IndexOf(model, true, probe);
            Assert.Equal(nextSet, list.NextSet(probe));
            var nextClear = Array.IndexOf(model, false, probe);
            Assert.Equal(nextClear < 0 ? Length : nextClear, list.NextClear(probe, Length));
            var countEnd = Math.Min(Length, probe + random.Next(200));
            Assert.Equal(model.Skip(probe).Take(countEnd - probe).Count(b => b), list.CountIn(new PageRange(probe, countEnd)));
        }
    }

    [Fact]
    public void FirstDataRange_finds_a_page_near_the_end_of_a_sparse_list()
    {
        const long Length = 1L << 20;
        var list = new PresentList(Length);
        Assert.True(list.MarkAsPresent(Length - 3));
        Assert.Equal(1, list.Count);
        Assert.Equal(new PageRange(Length - 3, Length - 2), list.FirstDataRange(16));
        Assert.Equal(Length - 3, list.NextSet(0));

        Assert.True(list.MarkRangeAsPresent(new PageRange(Length - 3, Length)));
        Assert.Equal(3, list.Count);
        Assert.Equal(new PageRange(Length - 3, Length), list.FirstDataRange(16));

        Assert.True(list.ClearRange(new PageRange(Length - 3, Length)));
        Assert.Null(list.FirstDataRange(16));

        // A page far below the last answer must be found again.
        Assert.True(list.MarkAsPresent(70_000));
        Assert.Equal(new PageRange(70_000, 70_001), list.FirstDataRange(16));
    }

    [Fact]
    public void NextSet_with_a_limit_finds_only_pages_before_it()
    {
        var list = new PresentList(1000);
        list.MarkAsPresent(5);
        list.MarkAsPresent(130);
        list.MarkAsPresent(999);

        Assert.Equal(5, list.NextSet(0, 6));
        Assert.Equal(-1, list.NextSet(0, 5));
        Assert.Equal(-1, list.NextSet(6, 130));
        Assert.Equal(130, list.NextSet(6, 131));
        Assert.Equal(-1, list.NextSet(131, 999));
        Assert.Equal(999, list.NextSet(131, long.MaxValue));
        Assert.Equal(-1, list.NextSet(50, 50));
        Assert.Equal(-1, list.NextSet(2000, 3000));
    }

    [Fact]
    public void NextSet_NextClear_and_CountIn_cross_word_boundaries()
    {
        var list = new PresentList(256);
        list.MarkRangeAsPresent(new PageRange(60, 70));
        list.MarkRangeAsPresent(new PageRange(127, 129));
        list.MarkAsPresent(255);

        Assert.Equal(60, list.NextSet(0));
        Assert.Equal(64, list.NextSet(64));
        Assert.Equal(127, list.NextSet(70));
        Assert.Equal(128, list.NextSet(128));
        Assert.Equal(255, list.NextSet(129));
        Assert.Equal(255, list.NextSet(255));
        Assert.Equal(-1, list.NextSet(256));

        Assert.Equal(0, list.NextClear(0, 256));
        Assert.Equal(70, list.NextClear(60, 256));
        Assert.Equal(129, list.NextClear(127, 256));
        Assert.Equal(68, list.NextClear(60, 68));
        Assert.Equal(64, list.NextClear(60, 64));
        Assert.Equal(256, list.NextClear(255, 256));

        Assert.Equal(13, list.CountIn(new PageRange(0, 256)));
        Assert.Equal(8, list.CountIn(new PageRange(63, 128)));
        Assert.Equal(1, list.CountIn(new PageRange(128, 255)));
        Assert.Equal(2, list.CountIn(new PageRange(128, 256)));
        Assert.Equal(0, list.CountIn(new PageRange(64, 64)));
        Assert.Equal(0, list.CountIn(new PageRange(70, 127)));
    }

    [Fact]
    public void A_whole_word_of_present_pages_is_one_run()
    {
        var list = new PresentList(200);
        list.MarkRangeAsPresent(new PageRange(64, 128));
        Assert.Equal(64, list.Count);
        Assert.Equal(64, list.NextSet(0));
        Assert.Equal(128, list.NextClear(64, 200));
        Assert.Equal(new PageRange(64, 128), list.FirstDataRange(1000));

        list.MarkRangeAsPresent(new PageRange(128, 200));
        Assert.Equal(200, list.NextClear(64, 200));
        Assert.Equal(new PageRange(64, 200), list.FirstDataRange(1000));
        Assert.Equal(136, list.CountIn(new PageRange(0, 200)));
    }
}
